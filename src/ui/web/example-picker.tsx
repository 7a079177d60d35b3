import { apiUrl, type ModelExample } from './api.js';

export interface ExamplePickerProps {
  examples: ModelExample[];
  onPick: (example: ModelExample) => void;
}

/** The model folder's examples, each one click from a result: it fills the form and runs it. */
export function ExamplePicker({ examples, onPick }: ExamplePickerProps) {
  return (
    <section class="examples" aria-labelledby="examples-heading">
      <h2 id="examples-heading" class="small-heading">
        Examples <span class="muted">(click one to run it; clicks while one runs wait their turn)</span>
      </h2>
      <ul class="example-list">
        {examples.map((example) => (
          <li key={example.name}>
            <button type="button" class="example" onClick={() => onPick(example)} aria-label={`Run example ${example.name}`}>
              {example.kind === 'image' && example.url !== undefined ? (
                <img src={apiUrl(example.url)} alt="" loading="lazy" width={48} height={48} />
              ) : null}
              <span>{example.name}</span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
