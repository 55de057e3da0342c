"""The spool: where every acknowledged instance lives, as a Part-10 file, until its payload is done.

scp/ receiver --spares.SparePool (empty files made ahead)--> data set streamed into a spare
    (instance_file.py: the file meta prepended; the UIDs and group tag read back from the data set)
    --completion.py (record in the file meta: length, checksum)--> ONE fdatasync
    --placement.py (rename, never over another file)--> spool.Spool: <root>/<called AE>/<association>/<uid>.dcm
disk.py            free-space watermark: below it the SCP refuses associations and C-STOREs
recovery.py        after a crash: complete files of .incoming/ moved into place, the rest deleted
reconciliation.py  at start: spool files vs SQLite (re-index orphans, drop finished, re-queue pending)
errors.py          the StoreError tree (the SCP answers each with a C-STORE status; it adds its own refusals)
settings.py        StorageSettings (`storage:` section)

The SCP (scp/) writes the spool and imports this package; nothing here imports the SCP.
"""

# No re-exports: instance_file.py reads completion.py, and spool.py reads instance_file.py; importing spool
# here would load all of them for any one. Import the modules themselves (`dicom_adapter.storage.spool`).
