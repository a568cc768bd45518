"""An optimizer's state read and written as one flat float64 vector.

A stability analysis linearizes an optimizer's step over (theta, state); whatever object the
state is, these functions give it as a vector and put a vector back, in place (the engine keeps
the state object it got from ``init_state``).

An optimizer may define both ``state_vector(state) -> vector`` and
``load_state_vector(state, vector)`` (in place) to choose its own layout. Otherwise the state
is flattened generically, depth first:

- None is empty;
- a NumPy array of numbers contributes its entries in C order;
- a number (int, float, bool, NumPy scalar) held in a dict or a list contributes one entry
  (written back as its own type: an int is rounded);
- a dict contributes its values in the order of its keys sorted as strings, a list or a
  tuple its items in order.

Anything else (and a number that is the state itself or sits in a tuple, which cannot be
written in place) is a :class:`gamesim.errors.PluginError` naming the optimizer.
"""

import numbers

import numpy as np

from . import protocols
from .errors import PluginError

_HOOKS = ("state_vector", "load_state_vector")


def _who(optimizer):
    return f"optimizer {getattr(optimizer, 'name', type(optimizer).__name__)!r}"


def _own(optimizer):
    """Whether the optimizer flattens its state itself (both methods, or neither)."""
    has = [protocols.has(optimizer, h) for h in _HOOKS]
    if any(has) and not all(has):
        raise PluginError(f"{_who(optimizer)} defines {_HOOKS[has.index(True)]} but not "
                          f"{_HOOKS[has.index(False)]}: define both or neither")
    return all(has)


def _refuse(optimizer, node, where):
    return PluginError(
        f"{_who(optimizer)}: its state{where} is {type(node).__name__} {node!r:.60}, which "
        f"cannot be read as numbers: keep the state in arrays, numbers in dicts or lists, "
        f"and None, or define state_vector(state) and load_state_vector(state, vector)")


def _leaves(optimizer, node, where=""):
    """(container, key, value) for each number and (None, None, array) for each array."""
    if node is None:
        return
    if isinstance(node, np.ndarray):
        if node.dtype.kind not in "biuf":
            raise _refuse(optimizer, node, where)
        yield None, None, node
    elif isinstance(node, dict):
        for key in sorted(node, key=str):
            yield from _numbers(optimizer, node, key, f"{where}[{key!r}]")
    elif isinstance(node, (list, tuple)):
        for key in range(len(node)):
            yield from _numbers(optimizer, node, key, f"{where}[{key}]")
    else:
        raise _refuse(optimizer, node, where)


def _numbers(optimizer, container, key, where):
    value = container[key]
    if isinstance(value, (numbers.Real, np.bool_)):
        if isinstance(container, tuple):
            raise PluginError(f"{_who(optimizer)}: its state{where} is a number in a tuple, "
                              f"which cannot be set in place: use a list")
        yield container, key, value
    else:
        yield from _leaves(optimizer, value, where)


def flat_state(optimizer, state):
    """The optimizer's ``state`` as a new flat float64 vector (see the module's docstring)."""
    if _own(optimizer):
        vector = np.array(optimizer.state_vector(state), dtype=np.float64)
        if vector.ndim != 1:
            raise PluginError(f"{_who(optimizer)}: state_vector(state) returned shape "
                              f"{vector.shape}, expected a flat vector")
        return vector
    if isinstance(state, (numbers.Real, np.bool_)):
        raise PluginError(f"{_who(optimizer)}: its state is the number {state!r}, which "
                          f"cannot be set in place: hold it in a list or a dict")
    parts = [np.ravel(value).astype(np.float64) if container is None else [float(value)]
             for container, _, value in _leaves(optimizer, state)]
    return np.concatenate(parts) if parts else np.zeros(0)


def set_flat_state(optimizer, state, vector):
    """Write the flat ``vector`` into ``state`` in place: the inverse of :func:`flat_state`."""
    vector = np.asarray(vector, dtype=np.float64)
    size = flat_state(optimizer, state).size
    if vector.shape != (size,):
        raise ValueError(f"{_who(optimizer)}: its state has {size} numbers, got a vector of "
                         f"shape {vector.shape}")
    if _own(optimizer):
        optimizer.load_state_vector(state, vector)
        return
    start = 0
    for container, key, value in list(_leaves(optimizer, state)):
        if container is None:
            value[...] = _cast(vector[start:start + value.size].reshape(value.shape), value)
            start += value.size
        else:
            container[key] = _cast(vector[start], value)
            start += 1


def _cast(x, like):
    """``x`` as the type of ``like``: integers and booleans rounded, not truncated."""
    kind = np.asarray(like).dtype.kind
    if kind in "biu":
        x = np.rint(x)
    if isinstance(like, np.ndarray):
        return x.astype(like.dtype)
    if isinstance(like, (bool, np.bool_)):
        return type(like)(x != 0)
    return type(like)(x)
