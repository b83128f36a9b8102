"""dnspython without ``importlib.metadata`` at start-up.

When ``dns.name`` is first imported it asks ``dns._features.have("idna")``, which imports
``importlib.metadata`` (the email package, zipfile, csv: about 11 ms of CPU on a fast machine)
and reads the installed idna's metadata, to choose its IDNA codec: IDNA 2008 (the idna
package) when idna is recent enough, else IDNA 2003. :func:`prepare`, called before dnspython
is first imported, gives dnspython the same answer the cheap way: idna's own ``__version__``
against dnspython's own requirement (``dns._features._requirements``, read, not copied),
through ``dns._features.force``, which dnspython provides "as a workaround for any cases where
importlib.metadata is ineffective".

For ``import importlib.metadata`` at the top of ``dns._features`` to cost nothing, a stand-in
takes the module's place in ``sys.modules`` until one of its attributes is used; then the real
module is imported (and takes its place back) and the stand-in hands out its attributes. That
happens when dnspython asks about another feature (``dns.resolver`` asks about DoH), or when
anything else in the process uses importlib.metadata. (``importlib.util.LazyLoader`` would be
the textbook tool, but on Python 3.11 the import system's own look at ``__spec__`` during
``import importlib.metadata`` already loads a lazy module.)

Anything unexpected (dnspython or ``importlib.metadata`` already imported, a requirement of
another shape, idna missing, dnspython's internals renamed) leaves dnspython to ask
``importlib.metadata`` itself: slower, the same answer. ``tests/test_startup.py`` compares the
answer both ways and fails if the cheap way stops being taken.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_METADATA = "importlib.metadata"
_lock = threading.RLock()


class _StandIn(types.ModuleType):
    """Holds a module's place in ``sys.modules`` (a finished import to the import system,
    so ``import name`` is free) until an attribute is used: then it imports the real module,
    which takes its place back, and forwards every attribute to it."""

    def __getattr__(self, attr: str) -> Any:
        with _lock:
            name = self.__name__
            if sys.modules.get(name) is self:
                del sys.modules[name]
            real = importlib.import_module(name)  # also sets the parent package's attribute
        return getattr(real, attr)


def prepare() -> None:
    """Before dnspython's first import: answer its "idna" feature question without
    importing importlib.metadata. Never raises; a no-op when dnspython or importlib.metadata
    is already imported."""
    if "dns._features" in sys.modules or _METADATA in sys.modules:
        return
    try:
        import idna

        version = str(idna.__version__)
        spec = importlib.util.find_spec(_METADATA)
    except Exception:  # no idna, no version, no metadata: let dnspython find out its own way
        return
    if spec is None:
        return
    stand_in = _StandIn(_METADATA)
    stand_in.__spec__ = spec
    with _lock:
        sys.modules[_METADATA] = stand_in
        importlib.metadata = stand_in  # as an import would
    try:
        import dns._features as features

        requirements: Any = features._requirements.get("idna")
        parse: Any = features._tuple_from_text
        if (
            not isinstance(requirements, list)
            or len(requirements) != 1
            or not isinstance(requirements[0], str)
        ):
            return
        package, sep, minimum = requirements[0].partition(">=")
        if package.strip() != "idna" or not sep:
            return
        features.force("idna", bool(parse(version) >= parse(minimum)))
    except Exception:  # dnspython changed: it asks importlib.metadata itself, on first use
        return
