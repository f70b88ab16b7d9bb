// Runs in a worker thread of the password checker's pool: bcrypt takes tens of milliseconds of
// CPU per check, which on the event loop would stall every other request. Plain JavaScript so
// the pool can load it from the sources under test and from the build alike.
import bcrypt from 'bcryptjs';

/** @param {{ password: string, hash: string }} task */
export default function compare({ password, hash }) {
  return bcrypt.compareSync(password, hash);
}
