/**
 * Images pasted (Ctrl+V) or dropped anywhere on the code list or the add page.
 *
 * The image goes into the page's image form (`form.js-image-form`, the visible upload form
 * on the add page, a hidden one under the list) and is submitted as if chosen by hand, so the
 * server decodes it, and answers with the list, a preview or a clear message, as for an upload.
 * Text pasted on the add page outside any field is handed to the "Paste a link" form when it
 * holds an otpauth link.
 *
 * @module image-input
 */

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];

function isEditable(element) {
  return Boolean(element && element.closest && element.closest('input, textarea, select, [contenteditable="true"]'));
}

function firstImage(files) {
  return [...(files || [])].find((file) => IMAGE_TYPES.includes(file.type)) || null;
}

function submitImage(form, file) {
  const input = form.querySelector('input[type="file"]');
  const transfer = new DataTransfer();
  transfer.items.add(file);
  input.files = transfer.files;
  form.requestSubmit();
}

export function initImageInput() {
  const form = document.querySelector('form.js-image-form');
  if (!form) return;
  const overlay = document.querySelector('.drop-overlay');
  const uriForm = document.querySelector('form.js-uri-form');

  document.addEventListener('paste', (event) => {
    const data = event.clipboardData;
    if (!data) return;
    const image = firstImage(data.files);
    if (image) {
      event.preventDefault();
      submitImage(form, image);
      return;
    }
    const text = data.getData('text/plain');
    if (uriForm && !isEditable(event.target) && /otpauth(-migration)?:\/\/|motp:/i.test(text)) {
      event.preventDefault();
      uriForm.querySelector('textarea').value = text.trim();
      uriForm.requestSubmit();
    }
  });

  const carriesFiles = (event) => Boolean(event.dataTransfer && [...event.dataTransfer.types].includes('Files'));
  const showOverlay = (shown) => {
    if (overlay) overlay.hidden = !shown;
  };
  document.addEventListener('dragover', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    showOverlay(true);
  });
  document.addEventListener('dragleave', (event) => {
    // Leaving the window, not just moving from one element to another.
    if (!event.relatedTarget) showOverlay(false);
  });
  document.addEventListener('drop', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    showOverlay(false);
    // Whatever was dropped goes to the server, which says clearly when it is not an image.
    const file = firstImage(event.dataTransfer.files) || event.dataTransfer.files[0];
    if (file) submitImage(form, file);
  });
}
