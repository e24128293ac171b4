"""Evidence packs for reviewing hits: a folder per hit with maps, timeline, points table, statement (DOCX and
PDF) and a manifest, plus an index page for the run. See :func:`make_packs`."""
from geomatch.evidence.context import EvidenceOptions, PackData, pack_data
from geomatch.evidence.naming import safe_folder_name
from geomatch.evidence.pack import (EvidenceRun, load_and_make_packs, make_pack, make_packs, pack_folder,
                                    select_hits)

__all__ = ["EvidenceOptions", "EvidenceRun", "PackData", "load_and_make_packs", "make_pack", "make_packs",
           "pack_data", "pack_folder", "safe_folder_name", "select_hits"]
