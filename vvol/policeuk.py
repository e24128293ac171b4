"""Adapter for the data.police.uk street-level crime CSV (``Crime ID, Month, Longitude, Latitude, Crime type ...``).

The open data carries no people and no times finer than the month, so it feeds the location side of V-VOL only:
each row becomes a crime in the project's contract, with

- ``crime_ref`` = ``Crime ID``; anti-social behaviour rows have none and get ``ASB-<file>-<row>`` (the row number in
  the file), so they count for places; any other row without an ID is quarantined as usual;
- ``offence`` = ``Crime type`` (the harm table knows these names as aliases or keys);
- ``committed_from``/``committed_to`` = the first and last instant of ``Month`` (UK local time);
- ``lat``/``lon`` = ``Latitude``/``Longitude`` (WGS84);
- ``premises_id`` = the anonymised map point (``Location`` text and coordinates): police.uk snaps every crime to
  one of a fixed set of points, which is the nearest thing the open data has to a premises;
- ``area`` = the local authority district from ``LSOA name`` (``Babergh 001A`` -> ``Babergh``);
- ``place`` = ``Location`` (``On or near Broad Street``), the name the tasking lists show.
"""
from __future__ import annotations

import pandas as pd

from geomatch.core.quarantine import SOURCE_ROW
from geomatch.core.tables import RawTable

STREET_COLUMNS = ("Crime ID", "Month", "Longitude", "Latitude", "Crime type")


def is_street_csv(frame: pd.DataFrame) -> bool:
    """True when the table has the police.uk street-level header."""
    return set(STREET_COLUMNS) <= set(frame.columns)


def from_street_csv(table: RawTable) -> RawTable:
    """The police.uk rows as a crimes table in the V-VOL contract (original columns kept for quarantine)."""
    raw = table.frame
    crime_type = raw["Crime type"].astype("string").str.strip()
    crime_id = raw["Crime ID"].astype("string").str.strip()
    is_asb = crime_type.str.lower().eq("anti-social behaviour").fillna(False)
    asb_ref = "ASB-" + table.path.name.split(".")[0] + "-" + raw[SOURCE_ROW].astype(str)
    crime_ref = crime_id.mask(crime_id.isna() & is_asb, asb_ref)
    month = pd.to_datetime(raw["Month"].astype("string").str.strip(), format="%Y-%m", errors="coerce")
    start = month.dt.strftime("%Y-%m-%dT00:00:00")
    end = (month + pd.offsets.MonthEnd(0)).dt.strftime("%Y-%m-%dT23:59:59")
    location = raw["Location"].astype("string") if "Location" in raw else pd.Series("", index=raw.index)
    point = location.fillna("") + " @ " + raw["Latitude"].astype("string") + "," + raw["Longitude"].astype("string")
    has_point = raw["Latitude"].notna() & raw["Longitude"].notna()
    area = (raw["LSOA name"].astype("string").str.replace(r"\s+\w+$", "", regex=True)
            if "LSOA name" in raw else pd.Series(pd.NA, index=raw.index, dtype="string"))
    adapted = raw.assign(crime_ref=crime_ref, offence=crime_type, committed_from=start, committed_to=end,
                         lat=raw["Latitude"], lon=raw["Longitude"], premises_id=point.where(has_point),
                         area=area, place=location)
    return RawTable(path=table.path, frame=adapted, crs=table.crs)
