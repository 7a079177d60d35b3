import { ServingError } from '../errors/serving-error.js';
import { defaultOpset, describeNode, getAttribute, GraphEditor, setDefaultOpset } from './graph-editor.js';
import { allGraphs } from './onnx-model.js';
import { makeTensor } from './onnx-tensors.js';
import type { GraphProto, ModelProto, NodeProto } from './proto/onnx-ml_pb.js';

/**
 * Operators whose opset 10 or 11 versions changed a model's meaning rather than only extending it
 * (from ONNX's Changelog.md: every other 10/11 change adds types, negative axes or optional
 * attributes whose defaults keep the old behaviour). The listed ones get rewritten to their new
 * form; the refused ones would need a real conversion and stop the upgrade with their name.
 */
const REWRITES: Record<string, { since: number; rewrite: (editor: GraphEditor, node: NodeProto) => void }> = {
  // Slice-10: starts/ends/axes moved from attributes to int64 inputs (and steps was added).
  Slice: {
    since: 10,
    rewrite: (editor, node) => {
      const ints = (name: string): number[] | undefined => getAttribute(node, name)?.ints.map(Number);
      const starts = ints('starts') ?? [];
      const inputs = [node.input[0]!, int64Input(editor, node, 'starts', starts), int64Input(editor, node, 'ends', ints('ends') ?? [])];
      const axes = ints('axes');
      if (axes !== undefined) inputs.push(int64Input(editor, node, 'axes', axes));
      node.input = inputs;
      node.attribute = node.attribute.filter((a) => !['starts', 'ends', 'axes'].includes(a.name));
    },
  },
  // Clip-11: min and max moved from attributes to inputs.
  Clip: {
    since: 11,
    rewrite: (editor, node) => {
      const bound = (name: 'min' | 'max'): string => {
        const a = getAttribute(node, name);
        if (a === undefined) return '';
        return editor.addInitializer(makeTensor.float(editor.uniqueName(`${node.name || node.output[0]}_${name}`), [], Float32Array.of(a.f)));
      };
      const inputs = [node.input[0]!, bound('min'), bound('max')];
      while (inputs[inputs.length - 1] === '') inputs.pop();
      node.input = inputs;
      node.attribute = node.attribute.filter((a) => a.name !== 'min' && a.name !== 'max');
    },
  },
  // Pad-11: pads and value moved from attributes to inputs.
  Pad: {
    since: 11,
    rewrite: (editor, node) => {
      const pads = getAttribute(node, 'pads')?.ints.map(Number) ?? [];
      const value = getAttribute(node, 'value');
      const inputs = [node.input[0]!, int64Input(editor, node, 'pads', pads)];
      if (value !== undefined && value.f !== 0) inputs.push(editor.addInitializer(makeTensor.float(editor.uniqueName(`${node.name || node.output[0]}_value`), [], Float32Array.of(value.f))));
      node.input = inputs;
      node.attribute = node.attribute.filter((a) => a.name !== 'pads' && a.name !== 'value');
    },
  },
  // TopK-10: k moved from an attribute to a 1-D int64 input.
  TopK: {
    since: 10,
    rewrite: (editor, node) => {
      const k = Number(getAttribute(node, 'k')?.i ?? 1);
      node.input = [node.input[0]!, int64Input(editor, node, 'k', [k])];
      node.attribute = node.attribute.filter((a) => a.name !== 'k');
    },
  },
};

/** Changed in opset 10/11 in ways that need a real conversion; a model using them is refused. */
const REFUSED: Record<string, string> = {
  Upsample: 'Upsample was deprecated in opset 10 in favour of Resize, whose coordinate modes differ',
  Resize: 'Resize-11 added coordinate transformation modes and a roi input whose defaults differ from Resize-10',
};

function int64Input(editor: GraphEditor, node: NodeProto, what: string, values: number[]): string {
  return editor.addInitializer(makeTensor.int64(editor.uniqueName(`${node.name || node.output[0]}_${what}`), [values.length], BigInt64Array.from(values.map(BigInt))));
}

/**
 * Moves a model's ai.onnx opset up to `target` (at most 11) when it is older, rewriting the few
 * operators whose inputs changed on the way, in every graph and subgraph. onnxruntime's quantizer
 * only bumps the number, which breaks any opset-9 model with a Slice or a Clip (PaddleOCR's do).
 * Refuses, naming the node, an operator it has no rule for; the model is untouched then.
 */
export function ensureOpset(model: ModelProto, target: number): { from: number; to: number } {
  const from = defaultOpset(model);
  if (from >= target) return { from, to: from };
  if (target > 11) {
    throw new ServingError('OPTIMIZE_UNSUPPORTED', `the model's opset ${from} would have to move to ${target}; Slipway converts models up to opset 11 only (use onnx.version_converter first)`);
  }
  const graphs: GraphProto[] = [...allGraphs(model.graph)];
  const work: Array<{ editor: GraphEditor; node: NodeProto }> = [];
  for (const graph of graphs) {
    const editor = new GraphEditor(graph);
    for (const node of graph.node) {
      if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
      const refused = REFUSED[node.opType];
      if (refused !== undefined) {
        throw new ServingError('OPTIMIZE_UNSUPPORTED', `cannot move the model from opset ${from} to ${target}: node ${describeNode(node)} cannot be converted (${refused})`);
      }
      const rule = REWRITES[node.opType];
      if (rule !== undefined && from < rule.since && rule.since <= target) work.push({ editor, node });
    }
  }
  // Every node was checked before anything changed, so a refusal leaves the model as it was.
  for (const { editor, node } of work) REWRITES[node.opType]!.rewrite(editor, node);
  setDefaultOpset(model, target);
  return { from, to: target };
}
