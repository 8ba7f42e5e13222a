"""What one import may cost the server, whatever the file holds: every budget in one place.

The guarantee: reading one file of at most `MAX_IMPORT_BYTES` takes at most about 10 s of
CPU and 256 MiB of memory beyond the upload itself, and a crafted file is refused before the
expensive step, not part-way through it. Each number below bounds one way a file could ask for
more: key derivation (the parameters are chosen by whoever wrote the file), SQLite (a database
file is a program as much as data), icons (a small file can decode to a huge image), and
imports running at once (each within budget, but not a thousand of them).

The key-derivation caps are the largest real files of the apps need, read from their sources:

- Argon2id: Ente derives with a constant memory x passes of 1 GiB x 4; its current apps start
  at 256 MiB x 16 (older ones wrote 1 GiB x 4, which asks for four times the memory allowed
  here and is refused; exporting again from a current Ente writes 256 MiB). Bitwarden writes at
  most 1 GiB x 10 x 16 lanes but defaults to 64 MiB x 3 x 4; it is read up to 256 MiB. Proton
  (19 MiB x 2) and Authenticator Pro (64 MiB x 3 x 4) use fixed parameters.
- scrypt: Aegis writes N=2^15, r=8, p=1 in each password slot (N*r*p = 2^18) and has never
  gone higher (2^17 would not fit the Java heap of most phones); a vault holds one or two
  password slots.
- PBKDF2: Bitwarden allows at most 2,000,000 iterations (600,000 by default); andOTP writes
  140,000 to 160,000, Authenticator Pro's old format 64,000, 2FAS 10,000.
"""

from __future__ import annotations

from datetime import timedelta

# The file --------------------------------------------------------------------------------
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ENTRIES = 10_000

# Key derivation, per attempt (one password tried on one file, every slot of it together) ----
MAX_KDF_MEMORY_BYTES = 256 * 2**20
# Argon2id work is the memory it fills times the passes over it: Ente's constant 1 GiB x 4.
MAX_ARGON2_WORK_BYTES = 4 * 2**30
MAX_ARGON2_LANES = 16
# scrypt work is N*r*p (its memory is 128*N*r bytes): four slots of Aegis's own 2^15*8*1.
MAX_SCRYPT_WORK = 2**20
MAX_PBKDF2_ITERATIONS = 2_000_000

# Microsoft Authenticator's SQLite database ------------------------------------------------
# SQLite calls the progress handler every SQLITE_PROGRESS_STEPS virtual-machine steps, and the
# query stops past SQLITE_MAX_STEPS; no value (a string or blob, read or computed) may be larger
# than SQLITE_MAX_VALUE_BYTES, so no single step can allocate or hash gigabytes either.
SQLITE_PROGRESS_STEPS = 1000
SQLITE_MAX_STEPS = 20_000_000
SQLITE_MAX_VALUE_BYTES = 64 * 1024

# Icons carried by a file ------------------------------------------------------------------
# Icons beyond the first MAX_IMPORTED_ICONS, or larger than MAX_IMPORTED_ICON_PIXELS (read from
# the image header, without decoding), are left out; the accounts still import. The ones kept
# are decoded once, when the accounts are added: at most 300 images of 512 x 512 pixels.
MAX_IMPORTED_ICONS = 300
MAX_IMPORTED_ICON_PIXELS = 512 * 512

# Imports running at once ------------------------------------------------------------------
# One per user (across every process, marked in the database), and a few per process; a marker
# older than IMPORT_MARKER_LIFETIME was left by a process that died and no longer counts.
MAX_IMPORTS_PER_PROCESS = 2
IMPORT_MARKER_LIFETIME = timedelta(minutes=2)
