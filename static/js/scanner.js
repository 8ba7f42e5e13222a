/**
 * Live QR code scanning on the add page (templates/accounts/new.html).
 *
 * The browser's BarcodeDetector reads the camera where it exists (Chrome on Android and
 * macOS); elsewhere jsQR (vendored from npm, loaded only then) reads frames drawn on a canvas.
 * The rear camera is asked for, the torch offered where the camera has one, and the camera
 * is stopped as soon as scanning ends, however it ends (a code found, Cancel, Escape, the
 * page hidden). Nothing is decoded on the server here: the text of the QR code goes through
 * the same "Paste a link" form a person would use, so every rule (duplicates, previews of
 * Google transfers) applies unchanged.
 *
 * Google Authenticator splits a transfer into several QR codes; their batch index and size
 * are read from the protobuf here so that scanning goes on until every batch is in.
 *
 * @module scanner
 */

const SCAN_INTERVAL_MS = 120;
// Frames are scaled down to this width for jsQR: enough for a phone-screen QR code, cheap to scan.
const JSQR_WIDTH = 640;

/**
 * One account's link (otpauth://, or an mOTP account's motp:, with or without the slashes Aegis
 * and Authenticator Pro write), a Google transfer link (otpauth-migration://), or neither.
 *
 * @param {string} text a QR code's text
 * @returns {'link'|'migration'|null}
 */
export function linkKind(text) {
  if (/^otpauth:\/\//i.test(text) || /^motp:/i.test(text)) return 'link';
  if (/^otpauth-migration:\/\//i.test(text)) return 'migration';
  return null;
}

/** The batch index and size of an otpauth-migration:// URI; a single batch when unreadable. */
export function migrationBatch(uri) {
  const single = { index: 0, size: 1 };
  const match = /[?&]data=([^&#]*)/i.exec(uri);
  if (!match) return single;
  let bytes;
  try {
    let text = decodeURIComponent(match[1]).replace(/ /g, '+').replace(/-/g, '+').replace(/_/g, '/');
    text += '='.repeat((4 - (text.length % 4)) % 4);
    bytes = Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  } catch {
    return single;
  }
  let pos = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (pos >= bytes.length) throw new RangeError('truncated');
      const byte = bytes[pos++];
      value += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return value;
    }
    throw new RangeError('overlong');
  };
  const info = { ...single };
  try {
    while (pos < bytes.length) {
      const key = varint();
      const field = Math.floor(key / 8);
      const wire = key % 8;
      if (wire === 0) {
        const value = varint();
        if (field === 3) info.size = value;
        if (field === 4) info.index = value;
      } else if (wire === 2) {
        const length = varint(); // read before pos: `pos += varint()` would add to the old pos
        pos += length;
      } else if (wire === 1) {
        pos += 8;
      } else if (wire === 5) {
        pos += 4;
      } else {
        return single;
      }
    }
  } catch {
    return single;
  }
  return info.size >= 1 && info.index < info.size ? info : single;
}

/** Load the vendored jsQR once (a classic script that defines window.jsQR). */
function loadJsQr(url) {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = url;
    script.onload = () => (window.jsQR ? resolve(window.jsQR) : reject(new Error('jsQR missing')));
    script.onerror = () => reject(new Error('jsQR failed to load'));
    document.head.append(script);
  });
}

/** A function that returns the QR texts visible in the video now. */
async function makeDecoder(video, decoderUrl) {
  if ('BarcodeDetector' in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes('qr_code')) {
        const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
        return async () => (await detector.detect(video)).map((code) => code.rawValue);
      }
    } catch {
      // fall through to jsQR
    }
  }
  const jsQR = await loadJsQr(decoderUrl);
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  return async () => {
    if (!video.videoWidth) return [];
    const scale = Math.min(1, JSQR_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const frame = context.getImageData(0, 0, canvas.width, canvas.height);
    const code = jsQR(frame.data, frame.width, frame.height, { inversionAttempts: 'attemptBoth' });
    return code && code.data ? [code.data] : [];
  };
}

class Scanner {
  constructor(root, form) {
    this.root = root;
    this.form = form;
    this.dialog = root.querySelector('.scan-dialog');
    this.video = root.querySelector('.scan-video');
    this.status = root.querySelector('.scan-status');
    this.torch = root.querySelector('.js-scan-torch');
    this.done = root.querySelector('.js-scan-done');
    this.stream = null;
    this.timer = null;
    this.batches = new Map();
    root.querySelector('.js-scan-start').addEventListener('click', () => this.start());
    root.querySelector('.js-scan-stop').addEventListener('click', () => this.stop());
    this.torch.addEventListener('click', () => this.toggleTorch());
    this.done.addEventListener('click', () => this.submit([...this.batches.values()]));
    this.dialog.addEventListener('close', () => this.stop());
    window.addEventListener('pagehide', () => this.stop());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.stop();
    });
  }

  say(text) {
    this.status.textContent = text;
  }

  async start() {
    this.batches.clear();
    this.done.hidden = true;
    this.dialog.showModal();
    this.say(this.root.dataset.starting);
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
      if (!this.dialog.open) {
        this.stop();
        return;
      }
      this.video.srcObject = this.stream;
      await this.video.play();
      const [track] = this.stream.getVideoTracks();
      const capabilities = track && track.getCapabilities ? track.getCapabilities() : {};
      this.torch.hidden = !capabilities.torch;
      this.torch.setAttribute('aria-pressed', 'false');
      this.decode = await makeDecoder(this.video, this.root.dataset.decoder);
    } catch {
      this.stopCamera();
      this.say(this.root.dataset.noCamera);
      return;
    }
    this.say(this.root.dataset.looking);
    this.scan();
  }

  scan() {
    this.timer = setTimeout(async () => {
      if (!this.stream) return;
      let texts;
      try {
        texts = await this.decode();
      } catch {
        texts = []; // a frame the decoder could not read: try the next one
      }
      for (const text of texts) this.found(text.trim());
      if (this.stream) this.scan();
    }, SCAN_INTERVAL_MS);
  }

  found(text) {
    if (!this.stream) return;
    const kind = linkKind(text);
    if (kind === 'link') {
      this.submit([text]);
      return;
    }
    if (kind !== 'migration') {
      this.say(this.root.dataset.notOtp);
      return;
    }
    const batch = migrationBatch(text);
    this.batches.set(batch.index, text);
    if (this.batches.size >= batch.size) {
      this.say(this.root.dataset.batchDone);
      this.submit([...this.batches.values()]);
      return;
    }
    this.say(this.root.dataset.batches.replace('{index}', String(batch.index + 1)).replace('{size}', String(batch.size)));
    this.done.hidden = false;
  }

  /** Hand the scanned links to the "Paste a link" form, marked as coming from the camera. */
  submit(texts) {
    this.stop();
    this.form.querySelector('textarea').value = texts.join('\n');
    this.form.querySelector('input[name$="origin"]').value = 'camera';
    this.form.requestSubmit();
  }

  async toggleTorch() {
    const [track] = this.stream ? this.stream.getVideoTracks() : [];
    if (!track) return;
    const on = this.torch.getAttribute('aria-pressed') !== 'true';
    try {
      await track.applyConstraints({ advanced: [{ torch: on }] });
      this.torch.setAttribute('aria-pressed', String(on));
    } catch {
      this.torch.hidden = true;
    }
  }

  stopCamera() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop();
    }
    this.stream = null;
    this.video.srcObject = null;
  }

  stop() {
    this.stopCamera();
    if (this.dialog.open) this.dialog.close();
  }
}

export function initScanner() {
  const root = document.querySelector('.js-scan');
  const form = document.querySelector('.js-uri-form');
  if (!root || !form || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  root.hidden = false;
  return new Scanner(root, form);
}
