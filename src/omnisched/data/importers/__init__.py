"""Importers of public corpus formats: each turns one source into rows of an omnisched corpus.

``IMPORTERS`` maps a format name to its :class:`~omnisched.data.importers.base.Importer`;
``omnisched import FORMAT SRC --out DIR`` runs one (:mod:`omnisched.data.importers.run`).
"""

from __future__ import annotations

from omnisched.data.importers import (
    common_voice,
    folders,
    lhotse_cuts,
    megassum,
    messages,
    slurp,
    speech_massive,
)
from omnisched.data.importers.base import Importer

IMPORTERS: dict[str, Importer] = {
    importer.name: importer
    for importer in (
        messages.importer("swift"),
        messages.importer("llamafactory"),
        megassum.IMPORTER,
        common_voice.IMPORTER,
        slurp.IMPORTER,
        speech_massive.IMPORTER,
        lhotse_cuts.IMPORTER,
        folders.IMPORTER,
    )
}
