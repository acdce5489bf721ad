"""Callback records: the form, the number, the service, the centre and desk phone dialled,
the code, the room and its routing, the outcome, and the timeline of each step.

Stores with one interface (`RecordStore`): `MemoryRecords` for the emulator and
tests; `SqliteRecords` (a file, or ":memory:"), the default of the real system;
`PostgresRecords` for a `postgresql://` URL. `open_records` picks one from a
string. The switchboard writes a record when the callback starts and when it
ends, and at every step when asked to (`save_every_step`, for live pages);
`put` replaces the whole record in one transaction, so a reader never sees
half of one. The SQL stores create and migrate their schema when they open
(`_schema.py`). `write_behind` wraps a store so that writes leave the event
loop for a thread of their own (`_writer.py`). The directory (services, centres,
desk phones, hours, room templates) lives in the same database: `open_directory`
(`_directory.py`).
"""

from ._directory import DirectoryStore, open_directory
from ._open import open_records, write_behind
from ._postgres import PostgresRecords
from ._record import (CallbackRecord, ClosableRecordStore, MemoryRecords, RecordStore,
                      record_of)
from ._schema import LATEST as SCHEMA_VERSION
from ._schema import RecordNotStored, RecordsError, SchemaTooNew
from ._sqlite import SqliteRecords
from ._writer import WriteBehind

__all__ = ["CallbackRecord", "ClosableRecordStore", "DirectoryStore", "MemoryRecords",
           "PostgresRecords", "RecordNotStored", "RecordStore", "RecordsError", "SCHEMA_VERSION",
           "SchemaTooNew", "SqliteRecords", "WriteBehind", "open_directory", "open_records",
           "record_of", "write_behind"]
