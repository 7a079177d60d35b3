import { z } from 'zod';

/** A relative path inside the model folder: no absolute paths, no `..`, so a bundle never ships files from elsewhere. */
const folderPath = z
  .string()
  .min(1)
  .refine((p) => !/^([/\\]|[A-Za-z]:)/.test(p) && !p.split(/[/\\]/).includes('..'), 'expected a path inside the model folder (no leading / and no ..)');

/**
 * The `edge:` section of a model's `config.yaml`: what `slipway edge` ships to the browser and when
 * the page falls back to the server. Every field is optional; `slipway edge` flags override them.
 */
export const edgeConfigFileSchema = z.strictObject({
  /** Models the handler calls with `ctx.infer` (a pipeline's steps), shipped in the bundle beside the model's own graph. */
  models: z.array(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected a model name')).optional(),
  /** Files (globs) of the model folder the handler reads with `ctx.readFile`, shipped in the bundle. */
  files: z.array(folderPath).optional(),
  /** Answer from the server once the median on-device latency of the last `latency_window` calls exceeds this. */
  latency_budget_ms: z.number().positive().optional(),
  latency_window: z.number().int().min(1).max(1000).optional(),
  /**
   * Accepted only to be refused with a reason: a bundle is public (anyone who opens the page reads
   * it), so `slipway edge` never writes a key into one and warns instead. The page passes a
   * per-user token at run time: `slipway.load({ apiKey })`.
   */
  api_key: z.string().optional(),
});

export type EdgeConfigFile = z.infer<typeof edgeConfigFileSchema>;
