"""De-identification of spinedetect's DICOM outputs (SEG, SR) by the PS3.15 Annex E basic profile.

:func:`deidentify` applies the actions of the Basic Application Level Confidentiality Profile (PS3.15
Table E.1-1, "Basic Prof." column) to a dataset in place, recursively through sequences:

- ``D`` replace with a non-identifying dummy value of the same VR, ``Z`` replace with an empty value,
  ``X`` remove, ``K`` keep, ``U`` replace a UID by a new one, ``C`` clean (apply the profile inside).
- Where the table leaves a choice (X/Z, X/D, Z/D, X/Z/D, X/Z/U*), the entry below names the choice made:
  the least that keeps a SEG/SR valid (Type 1 -> D, Type 2 -> Z, Type 3 -> X; UID sequences -> U*).
- Content Sequence is cleaned (Clean Structured Content Option, DCM 113104): spinedetect's SR content is
  generated codes and numbers; its UIDs, person names, dates and free text inside get the table's actions.
- Every private attribute is removed.
- UIDs are replaced through a :class:`UIDMap`: the same source UID always becomes the same new UID (a
  keyed hash, ``2.25.<int>``), so a study's SEG and SR still agree on study, series, frame of reference
  and referenced instances. References to the source images then point at the *de-identified* UIDs:
  they resolve against the source images only after those are de-identified with the same key.

The table covers the identifying attributes of the Patient, General Study, General Series, (Enhanced)
General Equipment, SOP Common, SR Document and SEG modules that highdicom writes or copies from the
source images, plus the identifying attributes commonly found in MR/CT sources; an attribute not in the
table is kept (``K``), as the profile says for attributes it does not list.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes

from spinedetect import __version__

__all__ = ["Action", "BASIC_PROFILE", "UIDMap", "Touched", "METHOD", "deidentify", "summarise"]


class Action(str, enum.Enum):
    """PS3.15 Table E.1-1 action codes."""

    DUMMY = "D"
    ZERO = "Z"
    REMOVE = "X"
    KEEP = "K"
    CLEAN = "C"
    UID = "U"


_D, _Z, _X, _C, _U = Action.DUMMY, Action.ZERO, Action.REMOVE, Action.CLEAN, Action.UID

#: Tag -> action (the choice made where Table E.1-1 offers several). Keyed by tag so a keyword typo fails loudly.
BASIC_PROFILE: dict[int, Action] = {
    # Patient module and other patient attributes
    0x00100010: _Z,  # Patient's Name (Z)
    0x00100020: _Z,  # Patient ID (Z/D)
    0x00100021: _X,  # Issuer of Patient ID
    0x00100030: _Z,  # Patient's Birth Date (Z)
    0x00100032: _X,  # Patient's Birth Time
    0x00100040: _Z,  # Patient's Sex (Z)
    0x00100050: _X,  # Patient's Insurance Plan Code Sequence
    0x00101000: _X,  # Other Patient IDs
    0x00101001: _X,  # Other Patient Names
    0x00101002: _X,  # Other Patient IDs Sequence
    0x00101005: _X,  # Patient's Birth Name
    0x00101010: _X,  # Patient's Age
    0x00101020: _X,  # Patient's Size
    0x00101030: _X,  # Patient's Weight
    0x00101040: _X,  # Patient's Address
    0x00101060: _X,  # Patient's Mother's Birth Name
    0x00101080: _X,  # Military Rank
    0x00101081: _X,  # Branch of Service
    0x00101090: _X,  # Medical Record Locator
    0x00102000: _X,  # Medical Alerts
    0x00102110: _X,  # Allergies
    0x00102150: _X,  # Country of Residence
    0x00102152: _X,  # Region of Residence
    0x00102154: _X,  # Patient's Telephone Numbers
    0x00102160: _X,  # Ethnic Group
    0x00102180: _X,  # Occupation
    0x001021A0: _X,  # Smoking Status
    0x001021B0: _X,  # Additional Patient History
    0x001021C0: _X,  # Pregnancy Status
    0x001021D0: _X,  # Last Menstrual Date
    0x001021F0: _X,  # Patient's Religious Preference
    0x00104000: _X,  # Patient Comments
    0x00081120: _X,  # Referenced Patient Sequence
    # General Study module
    0x0020000D: _U,  # Study Instance UID
    0x00080020: _Z,  # Study Date (Z)
    0x00080030: _Z,  # Study Time (Z)
    0x00080050: _Z,  # Accession Number (Z)
    0x00080090: _Z,  # Referring Physician's Name (Z)
    0x00080092: _X,  # Referring Physician's Address
    0x00080094: _X,  # Referring Physician's Telephone Numbers
    0x00080096: _X,  # Referring Physician Identification Sequence
    0x00200010: _Z,  # Study ID (Z)
    0x00081030: _X,  # Study Description
    0x00081048: _X,  # Physician(s) of Record
    0x00081060: _X,  # Name of Physician(s) Reading Study
    0x00081080: _X,  # Admitting Diagnoses Description
    0x00081110: _X,  # Referenced Study Sequence (X/Z)
    0x00321032: _X,  # Requesting Physician
    0x00324000: _X,  # Study Comments
    # General Series module
    0x0020000E: _U,  # Series Instance UID
    0x00080021: _X,  # Series Date (X/D)
    0x00080031: _X,  # Series Time (X/D)
    0x0008103E: _X,  # Series Description
    0x00081050: _X,  # Performing Physician's Name
    0x00081070: _X,  # Operators' Name (X/Z/D)
    0x00181030: _X,  # Protocol Name (X/D)
    0x00400244: _X,  # Performed Procedure Step Start Date
    0x00400245: _X,  # Performed Procedure Step Start Time
    0x00400253: _X,  # Performed Procedure Step ID
    0x00400254: _X,  # Performed Procedure Step Description
    0x00400275: _X,  # Request Attributes Sequence
    0x00081111: _Z,  # Referenced Performed Procedure Step Sequence (X/Z/D; Type 2 in SR)
    # Frame of Reference and image
    0x00200052: _U,  # Frame of Reference UID
    0x00200200: _U,  # Synchronization Frame of Reference UID
    0x00080022: _X,  # Acquisition Date (X/Z)
    0x00080032: _X,  # Acquisition Time (X/Z)
    0x0008002A: _X,  # Acquisition DateTime (X/Z/D)
    0x00080023: _D,  # Content Date (Z/D; Type 1 in SR)
    0x00080033: _D,  # Content Time (Z/D; Type 1 in SR)
    0x00081140: _C,  # Referenced Image Sequence (X/Z/U*: UIDs inside replaced)
    0x00082112: _C,  # Source Image Sequence (X/Z/U*: UIDs inside replaced)
    0x00082111: _X,  # Derivation Description
    0x00204000: _X,  # Image Comments
    0x00880200: _X,  # Icon Image Sequence
    0x00181000: _D,  # Device Serial Number (X/Z/D; Type 1 in Enhanced General Equipment)
    # General Equipment (also inside Contributing Equipment Sequence items)
    0x00080080: _X,  # Institution Name (X/Z/D)
    0x00080081: _X,  # Institution Address
    0x00080082: _X,  # Institution Code Sequence (X/Z/D)
    0x00081010: _X,  # Station Name (X/Z/D)
    0x00081040: _X,  # Institutional Department Name
    0x00181002: _U,  # Device UID
    0x0018A002: _X,  # Contribution DateTime
    0x0018A003: _X,  # Contribution Description
    # SOP Common
    0x00080018: _U,  # SOP Instance UID
    0x00080012: _X,  # Instance Creation Date (X/D)
    0x00080013: _X,  # Instance Creation Time (X/Z/D)
    0x00080014: _U,  # Instance Creator UID
    0x00081155: _U,  # Referenced SOP Instance UID
    0x00200027: _X,  # Pyramid Label
    0x00209164: _U,  # Dimension Organization UID
    0x00209161: _U,  # Concatenation UID
    # SR document and content items
    0x0040A730: _C,  # Content Sequence (X; C with the Clean Structured Content Option)
    0x0040A124: _U,  # UID
    0x0040A171: _U,  # Observation UID
    0x0040A123: _D,  # Person Name
    0x0040A120: _D,  # DateTime
    0x0040A121: _D,  # Date
    0x0040A122: _D,  # Time
    0x0040A032: _X,  # Observation DateTime (X/D)
    0x0040A160: _D,  # Text Value (C: a dummy keeps TEXT items valid; see _GENERATED_TEXT for what is kept)
    0x0040A073: _X,  # Verifying Observer Sequence (D; absent while unverified)
    0x0040A075: _X,  # Verifying Observer Name
    0x0040A027: _X,  # Verifying Organization
    0x0040A030: _X,  # Verification DateTime
    0x0040A078: _X,  # Author Observer Sequence
    0x0040A07A: _X,  # Participant Sequence
    0x0040A07C: _X,  # Custodial Organization Sequence
    0x00620021: _U,  # Tracking UID
    # Segmentation
    0x00700084: _Z,  # Content Creator's Name (Z/D; Type 2 in SEG)
    0x00700086: _X,  # Content Creator's Identification Code Sequence
    # File meta
    0x00020003: _U,  # Media Storage SOP Instance UID
}

#: What ``PatientIdentityRemoved`` / ``DeidentificationMethod`` record (CID 7050 codes).
METHOD = ("PS3.15 E Basic Profile", "Clean Structured Content Option", f"spinedetect {__version__}")
_METHOD_CODES = (codes.DCM.BasicApplicationConfidentialityProfile, codes.DCM.CleanStructuredContentOption)

#: TEXT content items whose value spinedetect generates and that identify no one (Clean Structured Content
#: keeps them): tracking identifiers (level names) and the device observer (the software itself).
_GENERATED_TEXT = {("112039", "DCM"), ("121013", "DCM"), ("121014", "DCM"), ("121015", "DCM"), ("121016", "DCM")}

_TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}

#: Dummy values by VR for action D.
_DUMMY = {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "PN": "ANONYMOUS", "LO": "ANONYMOUS",
          "SH": "ANONYMOUS", "LT": "ANONYMOUS", "ST": "ANONYMOUS", "UT": "ANONYMOUS", "CS": "ANONYMOUS",
          "AS": "000Y", "IS": "0", "DS": "0"}


@dataclass
class UIDMap:
    """Consistent UID replacement: ``new(old)`` is ``2.25.<int>`` of a keyed hash of ``old``.

    One map (one key) per output folder: the same source UID always maps to the same new UID, in every
    study and every rerun; without the key the new UIDs cannot be traced back to the old.
    """

    key: bytes
    mapped: dict[str, str] = field(default_factory=dict)

    def new(self, old: str) -> str:
        """The replacement of UID ``old`` (``2.25.`` + 128-bit integer, PS3.5 B.2)."""
        old = str(old).strip()
        if old not in self.mapped:
            digest = hmac.new(self.key, old.encode("ascii", "replace"), hashlib.sha256).digest()[:16]
            self.mapped[old] = f"2.25.{int.from_bytes(digest, 'big')}"
        return self.mapped[old]

    def pseudonym(self, text: str, length: int = 12) -> str:
        """``length`` hex digits of a keyed hash of ``text``: stable, and not traceable back without the key."""
        return hmac.new(self.key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:length]

    @classmethod
    def for_folder(cls, folder: str | Path) -> "UIDMap":
        """The map keyed by ``folder/.deidentify-key``, created (random, mode 0600) by the first run to need it.

        Creation is first-wins (hard link of a complete temporary file), so parallel ranks share one key.
        """
        path = Path(folder) / ".deidentify-key"
        if not path.exists():
            tmp = path.with_name(f".deidentify-key.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, secrets.token_bytes(32).hex().encode("ascii") + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another rank made it first: use theirs
            finally:
                tmp.unlink(missing_ok=True)
        return cls(bytes.fromhex(path.read_text(encoding="ascii").strip()))


@dataclass(frozen=True)
class Touched:
    """One attribute the profile changed: its keyword, tag ``(gggg,eeee)`` and action code."""

    keyword: str
    tag: str
    action: str

    def __str__(self) -> str:
        return f"{self.keyword} {self.tag} {self.action}"


def _tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, (list, tuple)) and not value) or str(value) == ""


def _concept(item: Dataset) -> tuple[str, str] | None:
    names = item.get("ConceptNameCodeSequence")
    if not names:
        return None
    return str(names[0].get("CodeValue", "")), str(names[0].get("CodingSchemeDesignator", ""))


def _apply(ds: Dataset, uids: UIDMap, touched: list[Touched]) -> None:
    """Apply the profile to ``ds``'s own elements; never mutate an element or item object in place.

    highdicom puts the *same* element and item objects of the source headers into the SEG and the SR:
    changing one in place would change the source headers and the other output (and map UIDs twice).
    """
    for elem in list(ds):
        tag = int(elem.tag)
        if elem.tag.is_private:
            del ds[elem.tag]
            touched.append(Touched("private", _tag_text(tag), Action.REMOVE.value))
            continue
        action = BASIC_PROFILE.get(tag, Action.KEEP)
        if elem.keyword == "TextValue" and _concept(ds) in _GENERATED_TEXT:
            action = Action.KEEP
        if elem.VR == "SQ":
            if action is Action.REMOVE:
                del ds[elem.tag]
                touched.append(Touched(elem.keyword, _tag_text(tag), action.value))
            elif action is Action.ZERO:
                if len(elem.value):
                    ds[elem.tag] = DataElement(elem.tag, "SQ", Sequence())
                    touched.append(Touched(elem.keyword, _tag_text(tag), action.value))
            else:  # K, C, D or U*: the profile applies to the items (PS3.15 E.1.1 for sequences)
                # new item objects holding the same elements, which are replaced here, never changed: no deep
                # copy (a deep copy of every sequence at every level made --deidentify ~5x slower on a SEG)
                items = [Dataset(dict(item.items())) for item in elem.value]
                for item in items:
                    _apply(item, uids, touched)
                ds[elem.tag] = DataElement(elem.tag, "SQ", Sequence(items))
            continue
        if action is Action.KEEP:
            continue
        before = after = elem.value
        if action is Action.REMOVE:
            del ds[elem.tag]
        else:
            if action is Action.ZERO:
                after = "" if elem.VR in _TEXT_VRS else None
            elif action is Action.UID and elem.VM > 1:
                after = [uids.new(v) for v in elem.value]
            elif action is Action.UID and elem.value:
                after = uids.new(elem.value)
            elif action is Action.DUMMY:
                after = _DUMMY.get(elem.VR, "ANONYMOUS") if elem.VR != "UI" else uids.new(elem.value)
            ds[elem.tag] = DataElement(elem.tag, elem.VR, after)
        changed = (action is Action.REMOVE or (action is Action.ZERO and not _empty(before))
                   or (action not in (Action.REMOVE, Action.ZERO) and before != after))
        if changed:
            touched.append(Touched(elem.keyword, _tag_text(tag), action.value))


def deidentify(ds: Dataset, uids: UIDMap) -> list[Touched]:
    """De-identify ``ds`` (and its file meta) in place; returns every attribute changed, in order.

    Adds PatientIdentityRemoved = YES, DeidentificationMethod and DeidentificationMethodCodeSequence
    (113100 Basic Application Confidentiality Profile, 113104 Clean Structured Content Option).
    """
    touched: list[Touched] = []
    _apply(ds, uids, touched)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = list(METHOD)
    items = []
    for code in _METHOD_CODES:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code.value, code.scheme_designator, code.meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    return touched


def summarise(touched: list[Touched]) -> list[dict[str, object]]:
    """Distinct touched attributes with how often, e.g. ``{"keyword": "UID", "tag": "(0040,A124)", "action": "U", "count": 12}``."""
    counts = Counter((t.keyword, t.tag, t.action) for t in touched)
    return [{"keyword": k, "tag": tag, "action": a, "count": n} for (k, tag, a), n in counts.items()]
