"""The DICOM layer every role of the adapter shares: the SCP, the export SCU, C-ECHO and the tests.

bytes in --pdu.PDU_HEADER / pdu.read_pdu (whole PDUs before and after P-DATA)
         --stream.PduStream (an established association's chunks -> PDV fragments, no copy)
              acse.py      A-ASSOCIATE-RQ / -AC, one encoder and one decoder each
              items.py     the variable items inside them (one walker, one encoder)
              contexts.py  proposed / accepted presentation contexts; storage SOP classes
              pdu.py       framing, P-DATA-TF PDVs, A-ASSOCIATE-RJ, A-RELEASE, A-ABORT
              dimse.py     command sets (C-STORE, C-ECHO) in both directions
              status.py    DIMSE statuses, RJ and ABORT codes, named
bytes stored --part10.py   PS3.10 preamble and file meta, written and read back
              elements.py  the one element walker: UIDs from a data set's head, a data set checked whole
              uids.py      well-known UIDs, ours, and UID syntax (PS3.5 9.1)
errors.py  what the layer raises (ProtocolError, DataSetError); each role maps them once
"""
