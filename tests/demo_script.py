"""What the reference server answers while `arli demo` is recorded (see test_demo.py).

The answers are what a capable model would say, so the offline demo reads sensibly; the
cassette README says the demo was recorded against the reference server.
"""

from __future__ import annotations

import json

from tests.reference_server import ScriptEntry

PAGE_1 = """# Lighthouse Keepers' Cooperative

Quarterly report, third quarter

The cooperative kept all eleven lights burning through the autumn storms. Two lenses were
replaced at Gull Point and one keeper retired after forty years of service."""

PAGE_2 = """## Fuel and maintenance by station

| Station | Oil (litres) | Repairs |
|---|---|---|
| Gull Point | 1,240 | 2 lenses |
| North Rock | 980 | none |
| Harbour Light | 1,105 | 1 pump |"""

PAGE_3 = """## Notes for next quarter

- order spare lenses before December
- train two new keepers
- repaint the tower at North Rock"""

RECIPE = {
    "name": "Fisherman's stew",
    "minutes": 45,
    "ingredients": ["cod", "potatoes", "leeks", "cream", "bay leaf"],
}

DEMO_SCRIPT = [
    ScriptEntry(match="recipe for a stormy night", reply=json.dumps(RECIPE)),
    ScriptEntry(
        match="Draw the lighthouse at Gull Point",
        tool_call=(
            "arli_generate_image",
            {
                "prompt": "a lighthouse on a rocky point at dusk, oil painting",
                "aspect_ratio": "3:2",
            },
        ),
    ),
    ScriptEntry(
        match="Draw the lighthouse at Gull Point",
        when_tool_result=True,
        reply="Here is the lighthouse at Gull Point at dusk; I saved the picture for you.",
    ),
    # the three pages of arli/_demo_assets/sample-report.pdf, told apart by their size at 150 DPI
    ScriptEntry(match="", has_image=True, image_size="1275x1651", reply=PAGE_1),
    ScriptEntry(match="", has_image=True, image_size="1651x1275", reply=PAGE_2),
    ScriptEntry(match="", has_image=True, image_size="901x1200", reply=PAGE_3),
]

DEMO_MODELS = ("Mistral-Nemo-12B-Instruct-2407", "FLUX.2-klein-4B", "Qwen/Qwen3.5-VL")
