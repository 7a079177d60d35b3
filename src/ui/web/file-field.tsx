import { useEffect, useState } from 'preact/hooks';
import { CameraCapture } from './camera-capture.js';
import { DrawCanvas } from './draw-canvas.js';
import { formatBytes } from './format.js';
import type { FieldSpec } from './schema-fields.js';

/** A file chosen for a field: uploaded, photographed, drawn or taken from an example. */
export interface FileValue {
  blob: Blob;
  name: string;
}

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'];

/**
 * What is wrong with a file before it is sent, or undefined. The server checks again (content,
 * pixel count); this only saves uploading something that cannot work.
 */
export function checkFile(file: FileValue, field: FieldSpec, maxBytes: number | undefined): string | undefined {
  if (maxBytes !== undefined && file.blob.size > maxBytes) {
    return `${file.name} is ${formatBytes(file.blob.size)}; ${field.label} takes files up to ${formatBytes(maxBytes)}.`;
  }
  if (file.blob.size === 0) return `${file.name} is empty.`;
  if (field.kind === 'image' && file.blob.type !== '' && !file.blob.type.startsWith('image/')) {
    return `${file.name} is not an image (${file.blob.type}): ${field.label} takes a PNG, JPEG or WebP picture.`;
  }
  return undefined;
}

/** Whether the file starts like a PNG, JPEG or WebP: a renamed or mistyped file is caught before it is uploaded. */
export async function looksLikeImage(blob: Blob): Promise<boolean> {
  const head = new Uint8Array(await blob.slice(0, 12).arrayBuffer());
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  const png = head[0] === 0x89 && ascii(1, 4) === 'PNG';
  const jpeg = head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff;
  const webp = ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP';
  return png || jpeg || webp;
}

type Source = 'upload' | 'camera' | 'draw';

export interface FileFieldProps {
  field: FieldSpec;
  value: FileValue | undefined;
  onChange: (value: FileValue | undefined) => void;
  /** Told whether the field refused the last file (its message is then the only one to show). */
  onRefused?: (refused: boolean) => void;
  maxBytes: number | undefined;
  /** Set when an example fills the field: shows the upload view with it. */
  exampleVersion: number;
}

/** A file input; for images also a camera and a drawing canvas, each keeping its own picture. */
export function FileField({ field, value, onChange, onRefused, maxBytes, exampleVersion }: FileFieldProps) {
  const isImage = field.kind === 'image';
  const [source, setSource] = useState<Source>('upload');
  const [kept, setKept] = useState<Partial<Record<Source, FileValue>>>({});
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [preview, setPreview] = useState<string | undefined>(undefined);
  const [dragging, setDragging] = useState(false);
  const id = `field-${field.name}`;

  // An example was loaded into the field: show it where uploads show.
  useEffect(() => {
    if (exampleVersion === 0 || value === undefined) return;
    setSource('upload');
    setKept((k) => ({ ...k, upload: value }));
    setProblem(undefined);
  }, [exampleVersion]);

  useEffect(() => {
    if (source !== 'upload' || value === undefined || !isImage) {
      setPreview(undefined);
      return;
    }
    const url = URL.createObjectURL(value.blob);
    setPreview(url);
    return () => URL.revokeObjectURL(url);
  }, [value, source]);

  const choose = async (from: Source, file: FileValue | undefined) => {
    let issue = file === undefined ? undefined : checkFile(file, field, maxBytes);
    if (issue === undefined && file !== undefined && isImage && !(await looksLikeImage(file.blob))) {
      issue = `${file.name} is not a picture: ${field.label} takes a PNG, JPEG or WebP file.`;
    }
    setProblem(issue);
    onRefused?.(issue !== undefined);
    const accepted = issue === undefined ? file : undefined;
    setKept((k) => ({ ...k, [from]: accepted }));
    onChange(accepted);
  };

  const switchTo = (next: Source) => {
    setSource(next);
    setProblem(undefined);
    onRefused?.(false);
    onChange(kept[next]);
  };

  const fromFiles = (files: FileList | null | undefined) => {
    const file = files?.[0];
    void choose('upload', file === undefined ? undefined : { blob: file, name: file.name });
  };

  const accept = isImage ? IMAGE_TYPES.join(',') : undefined;
  return (
    <fieldset class="field file-field">
      <legend>
        {field.label}
        {field.required && <span class="required"> (required)</span>}
      </legend>
      {field.description !== undefined && (
        <p class="hint" id={`${id}-hint`}>
          {field.description}
          {maxBytes !== undefined && `${/[.!?]$/.test(field.description) ? '' : '.'} Up to ${formatBytes(maxBytes)}.`}
        </p>
      )}
      {isImage && (
        <div class="segmented" role="radiogroup" aria-label={`${field.label}: where the picture comes from`}>
          {(['upload', 'camera', 'draw'] as const).map((s) => (
            <label key={s} class={source === s ? 'selected' : ''}>
              <input type="radio" name={`${id}-source`} value={s} checked={source === s} onChange={() => switchTo(s)} />
              {s === 'upload' ? 'Upload' : s === 'camera' ? 'Camera' : 'Draw'}
            </label>
          ))}
        </div>
      )}
      {source === 'upload' && (
        <div
          class={`drop-zone${dragging ? ' dragging' : ''}`}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(e) => {
            e.preventDefault();
            setDragging(false);
            fromFiles(e.dataTransfer?.files);
          }}
        >
          <label for={id}>{isImage ? 'Choose a picture' : 'Choose a file'}</label>
          <input
            id={id}
            type="file"
            accept={accept}
            aria-describedby={field.description !== undefined ? `${id}-hint` : undefined}
            aria-invalid={problem !== undefined}
            onChange={(e) => fromFiles(e.currentTarget.files)}
          />
          <span class="muted">or drop it here</span>
          {value !== undefined && (
            <div class="chosen">
              {preview !== undefined && <img src={preview} class="preview" alt={`Chosen picture: ${value.name}`} />}
              <span>
                {value.name} · {formatBytes(value.blob.size)}
              </span>
            </div>
          )}
        </div>
      )}
      {source === 'camera' && <CameraCapture onChange={(blob) => void choose('camera', blob === undefined ? undefined : { blob, name: 'camera.jpg' })} />}
      {source === 'draw' && <DrawCanvas label={field.label} onChange={(blob) => void choose('draw', blob === undefined ? undefined : { blob, name: 'drawing.png' })} />}
      {problem !== undefined && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
    </fieldset>
  );
}
