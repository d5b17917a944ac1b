// Finished work persists in IndexedDB, so a reload resumes an experiment instead of starting
// over. One record per cell checkpoint ({cell, adversarials}), keyed by the run (the
// library's key of its configuration, weights and test set), so changing any never mixes results.
const DB = 'advdrop';
const STORE = 'cells';

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => {
      const os = request.result.createObjectStore(STORE, { keyPath: ['run', 'cell'] });
      os.createIndex('run', 'run');
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact(mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    tx.oncomplete = () => { db.close(); resolve(result.result ?? result); };
    tx.onerror = () => { db.close(); reject(tx.error); };
    tx.onabort = () => { db.close(); reject(tx.error || new Error('IndexedDB transaction aborted')); };
  });
}

export async function get(run, cell) {
  const record = await transact('readonly', (os) => os.get([run, cell]));
  return record ? record.stored : null;
}

export function put(run, cell, stored) {
  return transact('readwrite', (os) => os.put({ run, cell, stored }));
}

/// Every stored cell of a run: [{cell: key, stored}].
export async function cells(run) {
  const records = await transact('readonly', (os) => os.index('run').getAll(run));
  return records.map((r) => ({ key: r.cell, stored: r.stored }));
}

export async function clear(run) {
  const records = await cells(run);
  await transact('readwrite', (os) => { for (const r of records) os.delete([run, r.key]); return true; });
}
