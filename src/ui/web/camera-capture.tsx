import { useEffect, useRef, useState } from 'preact/hooks';

export interface CameraCaptureProps {
  onChange: (photo: Blob | undefined) => void;
}

/** Why the camera cannot be used here, or undefined when getUserMedia is there to ask. */
export function cameraUnavailable(): string | undefined {
  if (!window.isSecureContext) return 'The camera needs a secure page: open the UI on https:// or on localhost.';
  if (navigator.mediaDevices?.getUserMedia === undefined) return 'This browser gives pages no camera access.';
  return undefined;
}

/** A live preview from the camera (the back one on phones) and a button that takes a photo. */
export function CameraCapture({ onChange }: CameraCaptureProps) {
  const video = useRef<HTMLVideoElement>(null);
  const stream = useRef<MediaStream | undefined>(undefined);
  const [status, setStatus] = useState<'off' | 'starting' | 'live' | 'taken'>('off');
  const [photo, setPhoto] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(cameraUnavailable());

  const stop = () => {
    for (const track of stream.current?.getTracks() ?? []) track.stop();
    stream.current = undefined;
  };
  useEffect(() => () => stop(), []);
  useEffect(() => () => void (photo !== undefined && URL.revokeObjectURL(photo)), [photo]);

  const start = async () => {
    setError(undefined);
    setStatus('starting');
    try {
      stream.current = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false });
      setStatus('live');
      if (video.current !== null) {
        video.current.srcObject = stream.current;
        await video.current.play();
      }
    } catch (e) {
      stop();
      setStatus('off');
      const name = (e as DOMException).name;
      setError(name === 'NotAllowedError' ? 'Camera access was refused; allow it in the browser to take a photo.' : `The camera could not start: ${(e as Error).message}`);
    }
  };

  // The <video> only exists while live; attach the stream once it is rendered.
  useEffect(() => {
    if (status === 'live' && video.current !== null && stream.current !== undefined && video.current.srcObject !== stream.current) {
      video.current.srcObject = stream.current;
      void video.current.play().catch(() => undefined);
    }
  }, [status]);

  const take = () => {
    const v = video.current;
    if (v === null || v.videoWidth === 0) return;
    const canvas = document.createElement('canvas');
    canvas.width = v.videoWidth;
    canvas.height = v.videoHeight;
    canvas.getContext('2d')!.drawImage(v, 0, 0);
    canvas.toBlob(
      (blob) => {
        if (blob === null) return;
        stop();
        setPhoto(URL.createObjectURL(blob));
        setStatus('taken');
        onChange(blob);
      },
      'image/jpeg',
      0.92,
    );
  };

  return (
    <div class="camera">
      {error !== undefined && <p class="error">{error}</p>}
      {status === 'live' && <video ref={video} class="camera-video" autoplay muted playsInline aria-label="Camera preview" />}
      {status === 'taken' && photo !== undefined && <img src={photo} class="preview" alt="The photo taken" />}
      <div class="row">
        {(status === 'off' || status === 'starting') && cameraUnavailable() === undefined && (
          <button type="button" onClick={() => void start()} disabled={status === 'starting'}>
            {status === 'starting' ? 'Starting camera…' : 'Start camera'}
          </button>
        )}
        {status === 'live' && (
          <button type="button" onClick={take}>
            Take photo
          </button>
        )}
        {status === 'taken' && (
          <button
            type="button"
            onClick={() => {
              onChange(undefined);
              void start();
            }}
          >
            Retake
          </button>
        )}
      </div>
    </div>
  );
}
