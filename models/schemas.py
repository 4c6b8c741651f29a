"""JSON schemas of the caption and segments documents (docs/outputs.md); tests validate every
document the writers produce against them."""
from __future__ import annotations

from m2t.converters.skeletons import PART_NAMES

from .results import ONSET_RULES, SCHEMA, SEGMENTS_SCHEMA_ID

_NUM_OR_NULL = {"type": ["number", "null"]}
_PART_SCORE = {"type": "object", "additionalProperties": False, "required": ["name", "score"],
               "properties": {"name": {"enum": list(PART_NAMES)},
                              "score": {"type": "number", "minimum": 0, "maximum": 1}}}
_TOKEN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["index", "word", "beta", "confidence", "is_motion_word", "centre_frame", "width_frames",
                 "centre_s", "width_s", "onset_s", "offset_s", "parts"],
    "properties": {
        "index": {"type": "integer", "minimum": 0},
        "word": {"type": "string"},
        "beta": {"type": "number", "minimum": 0, "maximum": 1},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "is_motion_word": {"type": "boolean"},
        "centre_frame": _NUM_OR_NULL, "width_frames": _NUM_OR_NULL,
        "centre_s": _NUM_OR_NULL, "width_s": _NUM_OR_NULL,
        "onset_s": _NUM_OR_NULL, "offset_s": _NUM_OR_NULL,
        "parts": {"type": ["array", "null"], "items": _PART_SCORE},
        "window": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}},
        "alpha": {"type": "array", "items": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}}},
    },
    "if": {"properties": {"is_motion_word": {"const": True}}},
    "then": {"properties": {k: {"type": "number", "minimum": 0} for k in
                            ("centre_frame", "width_frames", "centre_s", "width_s", "onset_s", "offset_s")}
             | {"parts": {"type": "array", "items": _PART_SCORE}}},
    "else": {"properties": {k: {"type": "null"} for k in
                            ("centre_frame", "width_frames", "centre_s", "width_s", "onset_s", "offset_s", "parts")}},
}

_ACTION = {
    "type": "object", "additionalProperties": False,
    "required": ["index", "word", "text", "onset_s", "offset_s", "side", "confidence", "windows", "parts",
                 "in_domain", "low_confidence"],
    "properties": {"index": {"type": "integer", "minimum": 0}, "word": {"type": "string"}, "text": {"type": "string"},
                   "onset_s": {"type": "number", "minimum": 0}, "offset_s": {"type": "number", "minimum": 0},
                   "side": {"enum": ["left", "right", "both", None]},
                   "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                   "windows": {"type": "integer", "minimum": 1},
                   "parts": {"type": "array", "items": _PART_SCORE},
                   "in_domain": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                   "low_confidence": {"type": ["boolean", "null"]},
                   "direction": {"enum": ["backward", "sideways", "circle", "left", "right", None]}}}
_WINDOWING = {"type": ["object", "null"], "additionalProperties": False, "required": ["window_s", "hop_s", "windows"],
              "properties": {"window_s": {"type": "number", "exclusiveMinimum": 0},
                             "hop_s": {"type": "number", "exclusiveMinimum": 0},
                             "windows": {"type": "integer", "minimum": 1},
                             "lengths_s": {"type": "array", "minItems": 1,
                                           "items": {"type": "number", "exclusiveMinimum": 0}}}}

CAPTION_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA,
    "title": "m2t caption with per-word timing and body parts (docs/outputs.md)",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "source", "text", "score", "duration_s", "time_offset_s", "fps", "frames", "downsample", "feature_fps",
                 "feature_frames", "onset_rule", "beam", "model", "parts", "warnings", "tokens", "segments",
                 "windowing"],
    "properties": {
        "schema": {"const": SCHEMA},
        "source": {"type": "string"},
        "text": {"type": "string"},
        "score": {"type": "number", "maximum": 0},
        "duration_s": {"type": "number", "minimum": 0},
        "time_offset_s": {"type": "number", "minimum": 0},
        "fps": {"type": "number", "exclusiveMinimum": 0},
        "frames": {"type": "integer", "minimum": 1},
        "downsample": {"type": "integer", "minimum": 1},
        "feature_fps": {"type": "number", "exclusiveMinimum": 0},
        "feature_frames": {"type": "integer", "minimum": 1},
        "onset_rule": {"enum": list(ONSET_RULES)},
        "beam": {"type": "integer", "minimum": 1},
        "model": {"type": "object", "additionalProperties": False, "required": ["dir", "skeleton", "m2t_version"],
                  "properties": {"dir": {"type": ["string", "null"]}, "skeleton": {"enum": ["t2m", "kit"]},
                                 "m2t_version": {"type": ["string", "null"]}}},
        "parts": {"const": list(PART_NAMES)},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "frame_times_s": {"type": "array", "items": {"type": "number", "minimum": 0}},
        "tokens": {"type": "array", "items": _TOKEN},
        "segments": {"type": "array", "items": _ACTION},
        "windowing": _WINDOWING,
    },
}

SEGMENTS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SEGMENTS_SCHEMA_ID,
    "title": "m2t timeline of actions (docs/outputs.md)",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "source", "text", "duration_s", "time_offset_s", "windowing", "segments"],
    "properties": {
        "schema": {"const": SEGMENTS_SCHEMA_ID},
        "source": {"type": "string"},
        "text": {"type": "string"},
        "duration_s": {"type": "number", "minimum": 0},
        "time_offset_s": {"type": "number", "minimum": 0},
        "windowing": _WINDOWING,
        "segments": {"type": "array", "items": _ACTION},
    },
}
