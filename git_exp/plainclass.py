"""Record classes without dataclasses: what `run`, `show` and the hooks load.

Building a dataclass executes generated code (about half a millisecond each)
and importing `dataclasses` brings `inspect` with it (4 ms): the records on
every command's path (hashes, stages, refs, overrides, queue entries) are
plain `__slots__` classes instead, sharing the behaviour below. Each keeps
its own typed `__init__`, so the checker still sees every constructor call.
"""
from __future__ import annotations


class Frozen:
    """Fields set once in `__init__` (through `_init`), read-only after;
    equal and hashed by COMPARED (every slot when empty), shown by every slot.
    Copy and pickle rebuild through `__init__` with the slots in order, so a
    subclass's `__init__` takes its slots positionally, in that order."""
    __slots__ = ()
    COMPARED: tuple[str, ...] = ()

    def _init(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field '{name}' of a {type(self).__name__}")

    __delattr__ = __setattr__   # type: ignore[assignment]

    def _key(self) -> tuple:
        return tuple(getattr(self, name) for name in (self.COMPARED or type(self).__slots__))

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        slots: tuple[str, ...] = type(self).__slots__
        return (type(self), tuple(getattr(self, name) for name in slots))

    def __repr__(self) -> str:
        return _repr(self)


class Mutable:
    """Fields assigned freely; equal by every slot, unhashable (as a mutable
    dataclass is), shown by every slot. Copy and pickle work as for any
    `__slots__` class."""
    __slots__ = ()

    def _key(self) -> tuple:
        slots: tuple[str, ...] = type(self).__slots__
        return tuple(getattr(self, name) for name in slots)

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and self._key() == other._key()  # type: ignore[attr-defined]

    __hash__ = None   # type: ignore[assignment]

    def __repr__(self) -> str:
        return _repr(self)


def _repr(obj: object) -> str:
    slots: tuple[str, ...] = type(obj).__slots__   # type: ignore[attr-defined]
    fields = ", ".join(f"{name}={getattr(obj, name)!r}" for name in slots)
    return f"{type(obj).__name__}({fields})"
