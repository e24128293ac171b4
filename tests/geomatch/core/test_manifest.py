"""Run manifests: input files hashed on a thread give the same entries as hashed in place."""
from __future__ import annotations

import json

from geomatch.core.manifest import file_entry, hash_in_background, verify_manifest, write_manifest


def test_inputs_hashed_in_the_background_are_recorded_as_hashed_in_place(tmp_path):
    inputs = [tmp_path / "trails.csv", tmp_path / "crimes.csv"]
    for number, path in enumerate(inputs):
        path.write_bytes(b"subject_id,timestamp\n" * (1000 + number))
    out = tmp_path / "out"
    out.mkdir()
    for name in ("hits.csv", "hits.parquet", "b.csv"):
        (out / name).write_text(name)
    manifests = []
    for given in (inputs, hash_in_background(inputs).result()):
        path = write_manifest(out, tool="geomatch match", parameters={}, inputs=given,
                              outputs=[out / "hits.parquet", out / "b.csv", out / "hits.csv"])
        manifests.append(json.loads(path.read_text()))
    assert manifests[0]["inputs"] == manifests[1]["inputs"] == [file_entry(p) for p in inputs]
    assert [e["path"] for e in manifests[1]["outputs"]] == ["b.csv", "hits.csv", "hits.parquet"]
    assert verify_manifest(out) == []


def test_hashes_started_early_are_taken_up_only_for_files_unchanged_since(tmp_path):
    import geomatch.core.manifest as manifest

    kept, changed = tmp_path / "trails.csv", tmp_path / "crimes.csv"
    kept.write_bytes(b"a,b\n1,2\n" * 5000)
    changed.write_bytes(b"x\n")
    manifest.start_hashing([kept, changed, tmp_path / "no such file"])
    changed.write_bytes(b"x\ny\n")  # rewritten after the early start: hashed again, as it is now
    entries = hash_in_background([kept, changed]).result()
    assert entries == [file_entry(kept), file_entry(changed)]
    ours = {str(kept.resolve()), str(changed.resolve())}
    assert not [key for key in manifest._STARTED if key[0] in ours]  # taken up, or dropped as stale
