"""Registry of labellers by name.

    @register_labeller("my_target")
    class MyTarget(Labeller): ...

    get_labeller("my_target", **kwargs)   # builds it
    available_labellers()                 # sorted names

An unknown name raises a KeyError that lists the registered names and the
nearest match, so a typo in a YAML is fixed at once.
"""

import difflib

_REGISTRY = {}


def register_labeller(*names):
    """Class decorator registering the class under one or more names."""
    if not names:
        raise ValueError("register_labeller needs at least one name")

    def add(cls):
        for name in names:
            if name in _REGISTRY and _REGISTRY[name] is not cls:
                raise ValueError(f"labeller name {name!r} is already taken by {_REGISTRY[name].__name__}")
            _REGISTRY[name] = cls
        return cls

    return add


def register_factory(name, factory):
    """Registers a callable returning a labeller (e.g. a stored LLD with a fixed column)."""
    if name in _REGISTRY:
        raise ValueError(f"labeller name {name!r} is already registered")
    _REGISTRY[name] = factory


def available_labellers():
    return sorted(_REGISTRY)


def get_labeller(name, **kwargs):
    """Builds the labeller registered as `name` with `kwargs`."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"no labeller named {name!r}.{hint} Registered: {', '.join(available_labellers())}")
    return _REGISTRY[name](**kwargs)
