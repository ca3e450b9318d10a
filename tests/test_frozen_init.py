"""fast_frozen_init: the same constructor as the dataclass's own, only quicker."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest

from quorum._frozen import fast_frozen_init
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.events import Event

pytestmark = pytest.mark.unit


def _sample(fast: bool) -> type[Any]:
    calls: list[str] = []

    @dataclass(frozen=True, slots=True, kw_only=True)
    class Sample:
        required: str
        number: int = 3
        items: list[int] = field(default_factory=list)
        derived: int = field(init=False, default=0)
        hidden: tuple[int, ...] = field(init=False, default_factory=tuple)

        def __post_init__(self) -> None:
            calls.append(self.required)
            object.__setattr__(self, "derived", self.number * 2)

    Sample.calls = calls  # type: ignore[attr-defined]
    return fast_frozen_init(Sample) if fast else Sample


def test_it_builds_what_the_dataclass_builds() -> None:
    plain, fast = _sample(False), _sample(True)
    for kwargs in ({"required": "a"}, {"required": "b", "number": 5, "items": [1]}):
        a, b = plain(**kwargs), fast(**kwargs)
        assert dataclasses.asdict(a) == dataclasses.asdict(b)
        assert repr(a).split("(", 1)[1] == repr(b).split("(", 1)[1]
    assert fast.calls == ["a", "b"]  # __post_init__ runs
    assert fast(required="x").derived == 6


def test_same_signature_as_the_dataclass() -> None:
    plain, fast = _sample(False), _sample(True)
    expected = inspect.signature(plain)
    got = inspect.signature(fast)
    assert list(got.parameters) == list(expected.parameters)
    for name, param in got.parameters.items():
        assert param.kind is expected.parameters[name].kind
        assert repr(param.default) == repr(expected.parameters[name].default)


def test_defaults_factories_and_errors() -> None:
    fast = _sample(True)
    one, two = fast(required="a"), fast(required="b")
    assert one.items == []
    assert one.items is not two.items
    assert one.hidden == ()
    with pytest.raises(TypeError):
        fast()  # the required field is still required
    with pytest.raises(TypeError):
        fast("positional")
    with pytest.raises(TypeError):
        fast(required="a", unknown=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.number = 4


def test_only_frozen_slotted_dataclasses() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        x: int = 0

    @dataclass(slots=True)
    class NotFrozen:
        x: int = 0

    for cls in (NoSlots, NotFrozen):
        with pytest.raises(TypeError, match="frozen=True, slots=True"):
            fast_frozen_init(cls)


@pytest.mark.parametrize("cls", [Event, AgentResponse, AgentRequest])
def test_the_hot_path_records_keep_their_fields(cls: type[Any]) -> None:
    params = inspect.signature(cls).parameters
    fields = [f for f in dataclasses.fields(cls) if f.init]
    assert list(params) == [f.name for f in fields]
    for f in fields:
        p = params[f.name]
        assert p.kind is inspect.Parameter.KEYWORD_ONLY
        if f.default is not dataclasses.MISSING:
            assert p.default is f.default
        elif f.default_factory is dataclasses.MISSING:
            assert p.default is inspect.Parameter.empty


def test_an_event_built_fast_equals_one_built_the_dataclass_way() -> None:
    fast = Event(type="agent:start", execution_id="e", sequence=1, timestamp=1.0, agent="a")  # type: ignore[arg-type]
    slow = object.__new__(Event)
    for f in dataclasses.fields(Event):
        value = getattr(fast, f.name)
        object.__setattr__(slow, f.name, value)
    assert fast == slow
    assert fast.data == {}
    assert fast.phase is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.sequence = 2  # type: ignore[misc]
