from __future__ import annotations

import pydicom
from pydicom.data import get_testdata_file

from dicom_adapter.payloads.jobs import IDEMPOTENCY_KEY, dicom_tag_metadata, job_metadata, job_name, payload_file_name
from tests.dicom_adapter.fakes import make_instance


def test_payload_file_name_has_no_patient_id_and_stays_inside(tmp_path):
    instance = make_instance(tmp_path, "1.2.3.4", study="1.2", series="1.2.3")
    assert payload_file_name(instance) == "dcm/1.2/1.2.3/1.2.3.4.dcm"
    evil = make_instance(tmp_path, "x", study="..", series="a/b")
    parts = payload_file_name(evil).split("/")
    assert len(parts) == 4 and ".." not in parts and "" not in parts


def test_job_name_is_clara_clean_and_keeps_the_time_stamp():
    assert job_name("CLARA", "seg", 1_700_000_000) == "clara-seg-20231114221320"
    assert job_name("--A__B--", "x", 0) == "a-b-x-19700101000000"
    assert len(job_name("A" * 16, "p" * 60, 0)) <= 63


def test_job_metadata_carries_idempotency_key_and_no_phi(tmp_path):
    instances = [make_instance(tmp_path, str(n), series=f"S{n}") for n in range(3)]
    metadata = job_metadata("pid", "seg", "CLARA", instances)
    assert metadata[IDEMPOTENCY_KEY] == "pid/seg"
    assert metadata["Instances"] == "3"
    assert metadata["openclara.series-instance-uids"] == "S0,S1,S2"
    assert metadata["Source"] == "CLARA (PACS@127.0.0.1)"


def test_dicom_tag_metadata_one_key_per_tag_and_numbered_when_several_values(tmp_path):
    source = get_testdata_file("CT_small.dcm")
    assert source is not None
    first = make_instance(tmp_path, "1")
    second = make_instance(tmp_path, "2")
    ds = pydicom.dcmread(source)
    ds.save_as(first.path)
    ds.Modality = "MR"
    ds.save_as(second.path)
    metadata = dicom_tag_metadata([first, second], ["0008,0020", "0008,0060"])
    assert metadata["00080020"] == str(ds.StudyDate)
    assert {metadata["00080060-1"], metadata["00080060-2"]} == {"CT", "MR"}
