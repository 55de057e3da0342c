"""The spool: where every acknowledged instance lives, as a Part-10 file, until its payload is done.

scp/ receiver --spares.SparePool (empty files made ahead)--> data set streamed into a spare
    --completion.py (record in the file meta: length, checksum)--> ONE fdatasync
    --placement.py (rename, never over another file)--> spool.Spool: <root>/<called AE>/<association>/<uid>.dcm
disk.py            free-space watermark: below it the SCP refuses associations and C-STOREs
recovery.py        after a crash: complete files of .incoming/ moved into place, the rest deleted
reconciliation.py  at start: spool files vs SQLite (re-index orphans, drop finished, re-queue pending)
"""

# No re-exports: the DICOM layer's part10 reads completion.py, and spool.py reads part10; importing spool
# here would make that a cycle. Import the modules themselves (`dicom_adapter.storage.spool`).
