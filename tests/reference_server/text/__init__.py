"""The text API: vLLM / Aphrodite-engine OpenAI-compatible routes.

Wire formats follow ``tests/fixtures/wire/WIRE_REFERENCE.md`` §1-2 for three
flavors (see :data:`FLAVOR_SPECS`). Generation is simulated: a deterministic
tokenizer, scripted replies (``script.py``) and constraint-satisfying output
(``schema_gen.py``).

The package is split by concern; :class:`TextAPI` composes the parts:

* ``flavors.py``    the engine flavors, their error envelopes, the shared base;
* ``tokenizer.py``  the toy tokenizer and simulated log-probabilities;
* ``validation.py`` request validation (field coercion, ranges, context limits,
  vLLM's before-validators, structured-output fields);
* ``plan.py``       generation-plan types and the token budget;
* ``simulation.py`` prompt rendering and the model's decisions;
* ``rendering.py``  JSON bodies and SSE streams;
* ``routes.py``     dispatch and the route handlers.

Choices made where the engines leave room:

* ``stop_reason`` is ``null`` when generation ends at EOS (vLLM reports ``null``
  for EOS; an int only for ``stop_token_ids``), the matched string for stop strings.
* The EOS token counts as a completion token (as in vLLM), so a natural end of
  ``k`` visible tokens reports ``completion_tokens = k + 1``.
* ``/detokenize`` decodes ids this tokenizer has produced; unknown ids in the
  vocabulary range decode to ``""``; ids outside it are a 400.
* Aphrodite 0.6 ignores ``structured_outputs`` (it predates the field) but
  honours ``guided_*`` and ``response_format``.
"""

from tests.reference_server.text.flavors import FLAVOR_SPECS, FlavorSpec, error_body
from tests.reference_server.text.routes import TextAPI
from tests.reference_server.text.tokenizer import Tokenizer

__all__ = ["FLAVOR_SPECS", "FlavorSpec", "TextAPI", "Tokenizer", "error_body"]
