/**
 * Where the offline copy lives on the device: one IndexedDB record per browser profile.
 *
 * The record holds the sealed blob (docs/offline-blob.md) and what the pages need before the
 * PIN is entered: whose copy it is, which vault revision it holds, this device's id and token
 * for refreshing it, and the wrong-PIN counter. Nothing in it is readable without the PIN
 * except those few facts. Changes are read-modify-write inside one transaction, so two tabs
 * counting wrong PINs at once cannot lose a count.
 *
 * @module offline-store
 */

const DB_NAME = 'webauth-offline';
const DB_VERSION = 1;
const STORE = 'copy';
const COPY_KEY = 'copy';
/** A note that the copy was wiped while the server could not be told (see `wipeCopy`). */
const ENDED_KEY = 'ended';

/**
 * @typedef {object} CopyRecord
 * @property {object} blob the sealed vault
 * @property {string} revision the vault revision the blob holds (webauth/offline.py)
 * @property {{id: string, token: string}} device this device's record on the server
 * @property {{id: number, name: string}} owner the user whose vault it is
 * @property {'digits'|'text'} pin_kind so the PIN field can offer a number pad
 * @property {number} max_attempts wrong PINs in a row that wipe the copy
 * @property {number} failed_attempts wrong PINs in a row so far
 * @property {number} saved_ms when the blob was last sealed, by this device's clock
 */

function openDatabase() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** @param {IDBRequest} request */
function settle(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Run `work` in one transaction and resolve with its result once the transaction commits.
 * `work` may only await requests of this store, or the transaction closes under it.
 *
 * @template T
 * @param {IDBTransactionMode} mode
 * @param {(store: IDBObjectStore) => Promise<T>} work
 * @returns {Promise<T>}
 */
async function inTransaction(mode, work) {
  const db = await openDatabase();
  try {
    const transaction = db.transaction(STORE, mode);
    const committed = new Promise((resolve, reject) => {
      transaction.oncomplete = resolve;
      transaction.onabort = () => reject(transaction.error);
    });
    const result = await work(transaction.objectStore(STORE));
    await committed;
    return result;
  } finally {
    db.close();
  }
}

/** @returns {Promise<CopyRecord|null>} */
export async function readCopy() {
  return (await inTransaction('readonly', (store) => settle(store.get(COPY_KEY)))) ?? null;
}

/** @param {CopyRecord} record */
export async function writeCopy(record) {
  await inTransaction('readwrite', (store) => settle(store.put(record, COPY_KEY)));
}

/**
 * Change the record atomically; `change` gets the stored record and returns the new one.
 *
 * @param {(record: CopyRecord) => CopyRecord} change
 * @returns {Promise<CopyRecord|null>} the record as stored, or null when there is none
 */
export async function updateCopy(change) {
  return inTransaction('readwrite', async (store) => {
    const record = await settle(store.get(COPY_KEY));
    if (!record) return null;
    const next = change(record);
    await settle(store.put(next, COPY_KEY));
    return next;
  });
}

/**
 * Delete the copy. With `reason`, also leave a note (device id, token, owner) so that the
 * next signed-in page tells the server this device no longer holds a copy: a copy wiped
 * offline after too many wrong PINs would otherwise stay listed as present.
 *
 * @param {string} [reason] one of the reasons a device reports (webauth/views/offline.py)
 * @returns {Promise<CopyRecord|null>} the record that was deleted
 */
export async function wipeCopy(reason) {
  return inTransaction('readwrite', async (store) => {
    const record = await settle(store.get(COPY_KEY));
    await settle(store.delete(COPY_KEY));
    if (record && reason) {
      await settle(store.put({ device: record.device, owner: record.owner, reason }, ENDED_KEY));
    }
    return record ?? null;
  });
}

/** @returns {Promise<{device: {id: string, token: string}, owner: {id: number}, reason: string}|null>} */
export async function readEnded() {
  return (await inTransaction('readonly', (store) => settle(store.get(ENDED_KEY)))) ?? null;
}

export async function clearEnded() {
  await inTransaction('readwrite', (store) => settle(store.delete(ENDED_KEY)));
}
