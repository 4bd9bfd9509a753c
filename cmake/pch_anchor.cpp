// Anchors the shared precompiled header; intentionally empty.
