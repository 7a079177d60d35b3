// Copy-ready calls of a model, for the "Use via API" panel: curl, the TypeScript client
// (slipway/client), Python requests and grpcurl, filled with the model's real inputs and the
// request last run on the page.
import type { ModelDescription, ModelMetadata } from './api.js';
import type { Run } from './run.js';
import { CONTENTS_FIELD } from '../../protocol/grpc/contents-field.js';
import { concreteShape, fillValue, product } from './tensors.js';

export interface Snippet {
  language: 'curl' | 'TypeScript' | 'Python' | 'gRPC';
  code: string;
  note?: string;
}

/** Bodies larger than this are shown with their data cut (the full request is in the result's JSON). */
const MAX_VALUES = 256;

const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
const pyString = (text: string): string => JSON.stringify(text);

/** The request fields a handler call sends: files by their file name, the rest as values. */
function handlerFields(model: ModelDescription, last: Run | undefined): Array<{ name: string; file?: string; value?: unknown }> {
  const fileFields = model.handler?.file_fields ?? [];
  const input = (last?.input ?? {}) as Record<string, unknown>;
  const fields: Array<{ name: string; file?: string; value?: unknown }> = fileFields.map((name) => ({ name, file: last?.files.get(name)?.name ?? `${name}.png` }));
  for (const [name, value] of Object.entries(input)) if (!fileFields.includes(name)) fields.push({ name, value });
  return fields;
}

export function handlerSnippets(origin: string, model: ModelDescription, last: Run | undefined): Snippet[] {
  const url = `${origin}/api/models/${encodeURIComponent(model.name)}/predict`;
  const fields = handlerFields(model, last);
  const files = fields.filter((f) => f.file !== undefined);
  const values = fields.filter((f) => f.file === undefined);
  const asText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  if (files.length === 0) {
    const body = JSON.stringify(Object.fromEntries(values.map((f) => [f.name, f.value])));
    return [
      { language: 'curl', code: `curl ${url} \\\n  -H 'content-type: application/json' \\\n  -d ${shellQuote(body)}` },
      {
        language: 'TypeScript',
        code: `import { SlipwayHttpClient } from 'slipway/client';\n\nconst client = new SlipwayHttpClient(${JSON.stringify(origin)});\nconst answer = await client.predict(${JSON.stringify(model.name)}, ${body});\nconsole.log(answer);`,
      },
      { language: 'Python', code: `import requests\n\nanswer = requests.post(${pyString(url)}, json=${body}).json()\nprint(answer)` },
    ];
  }
  const curlParts = [...files.map((f) => `-F ${shellQuote(`${f.name}=@${f.file}`)}`), ...values.map((f) => `-F ${shellQuote(`${f.name}=${asText(f.value)}`)}`)];
  const tsFields = [
    ...files.map((f) => `  ${JSON.stringify(f.name)}: new Blob([await readFile(${JSON.stringify(f.file)})], { type: ${JSON.stringify(mediaType(f.file!))} }),`),
    ...values.map((f) => `  ${JSON.stringify(f.name)}: ${JSON.stringify(f.value)},`),
  ];
  const pyFiles = files.map((f) => `${pyString(f.name)}: open(${pyString(f.file!)}, "rb")`).join(', ');
  const pyData = values.map((f) => `${pyString(f.name)}: ${pyString(asText(f.value))}`).join(', ');
  return [
    { language: 'curl', code: `curl ${url} \\\n  ${curlParts.join(' \\\n  ')}` },
    {
      language: 'TypeScript',
      code: `import { readFile } from 'node:fs/promises';\nimport { SlipwayHttpClient } from 'slipway/client';\n\nconst client = new SlipwayHttpClient(${JSON.stringify(origin)});\nconst answer = await client.predict(${JSON.stringify(model.name)}, {\n${tsFields.join('\n')}\n});\nconsole.log(answer);`,
    },
    {
      language: 'Python',
      code: `import requests\n\nanswer = requests.post(\n    ${pyString(url)},\n    files={${pyFiles}},${pyData === '' ? '' : `\n    data={${pyData}},`}\n).json()\nprint(answer)`,
    },
  ];
}

function mediaType(file: string): string {
  if (/\.jpe?g$/i.test(file)) return 'image/jpeg';
  if (/\.webp$/i.test(file)) return 'image/webp';
  if (/\.png$/i.test(file)) return 'image/png';
  return 'application/octet-stream';
}

interface TensorBody {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

/** The tensors last sent, or zeros of the model's shapes; data cut to MAX_VALUES values. */
function tensors(metadata: ModelMetadata, last: Run | undefined): { inputs: TensorBody[]; cut: boolean } {
  const sent = (last?.input as { inputs?: TensorBody[] } | undefined)?.inputs;
  const inputs =
    sent ??
    metadata.inputs.map((m) => {
      const shape = concreteShape(m.shape);
      return { name: m.name, datatype: m.datatype, shape, data: Array.from({ length: product(shape) }, () => fillValue(m.datatype, 'zeros')) };
    });
  const cut = inputs.some((t) => t.data.length > MAX_VALUES);
  return { inputs: inputs.map((t) => ({ ...t, data: t.data.length > MAX_VALUES ? t.data.slice(0, MAX_VALUES) : t.data })), cut };
}

const TYPED_ARRAY: Record<string, string> = {
  FP32: 'Float32Array',
  FP64: 'Float64Array',
  INT8: 'Int8Array',
  INT16: 'Int16Array',
  INT32: 'Int32Array',
  INT64: 'BigInt64Array',
  UINT8: 'Uint8Array',
  UINT16: 'Uint16Array',
  UINT32: 'Uint32Array',
  UINT64: 'BigUint64Array',
};


const grpcField = (datatype: string): string | undefined => CONTENTS_FIELD[datatype as keyof typeof CONTENTS_FIELD];

export function inferSnippets(origin: string, grpcAddress: string, metadata: ModelMetadata, last: Run | undefined): Snippet[] {
  const url = `${origin}/v2/models/${encodeURIComponent(metadata.name)}/infer`;
  const { inputs, cut } = tensors(metadata, last);
  const note = cut ? `Data cut to its first ${MAX_VALUES} values here: send the whole tensor (the result's JSON has the request as sent).` : undefined;
  const body = JSON.stringify({ inputs });
  const tsInputs = inputs.map((t) => {
    const array = TYPED_ARRAY[t.datatype];
    const data = t.datatype === 'BYTES' ? JSON.stringify(t.data) : array?.startsWith('Big') ? `${array}.from(${JSON.stringify(t.data.map(String))}, BigInt)` : array !== undefined ? `${array}.from(${JSON.stringify(t.data)})` : JSON.stringify(t.data);
    return `  { name: ${JSON.stringify(t.name)}, datatype: ${JSON.stringify(t.datatype)}, shape: ${JSON.stringify(t.shape)}, data: ${data} },`;
  });
  const snippets: Snippet[] = [
    { language: 'curl', code: `curl ${url} \\\n  -H 'content-type: application/json' \\\n  -d ${shellQuote(body)}`, ...(note !== undefined && { note }) },
    {
      language: 'TypeScript',
      code: `import { SlipwayHttpClient } from 'slipway/client';\n\nconst client = new SlipwayHttpClient(${JSON.stringify(origin)});\nconst result = await client.infer(${JSON.stringify(metadata.name)}, [\n${tsInputs.join('\n')}\n]);\n${metadata.outputs.map((o) => `console.log(result.output(${JSON.stringify(o.name)}).data);`).join('\n')}`,
      ...(note !== undefined && { note }),
    },
    { language: 'Python', code: `import requests\n\nanswer = requests.post(${pyString(url)}, json=${body}).json()\nprint(answer["outputs"])`, ...(note !== undefined && { note }) },
  ];
  if (inputs.every((t) => grpcField(t.datatype) !== undefined)) {
    const grpc = JSON.stringify({
      model_name: metadata.name,
      inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, contents: { [grpcField(t.datatype)!]: t.data } })),
    });
    snippets.push({
      language: 'gRPC',
      code: `grpcurl -plaintext -import-path proto -proto grpc_predict_v2.proto \\\n  -d ${shellQuote(grpc)} \\\n  ${grpcAddress} inference.GRPCInferenceService/ModelInfer`,
      note: `From a checkout of Slipway (proto/ holds the service definition).${note === undefined ? '' : ` ${note}`}`,
    });
  }
  return snippets;
}
