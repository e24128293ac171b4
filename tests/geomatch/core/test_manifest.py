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


def test_small_and_large_outputs_get_the_same_entries_hashed_in_turn_or_two_at_a_time(tmp_path, monkeypatch):
    """Outputs of a few megabytes are hashed on the calling thread, larger ones two at a time: the same entries."""
    import hashlib

    from geomatch.core import manifest

    files = []
    for k, size in enumerate((0, 1, 70_000, 1 << 20)):
        files.append(tmp_path / f"f{k}.bin")
        files[-1].write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    in_turn = manifest.file_entries(files, tmp_path)
    monkeypatch.setattr(manifest, "IN_LINE_BYTES", 0)
    assert manifest.file_entries(files, tmp_path) == in_turn
    assert [e["path"] for e in in_turn] == [f.name for f in files]
    assert [e["sha256"] for e in in_turn] == [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert [e["bytes"] for e in in_turn] == [f.stat().st_size for f in files]
