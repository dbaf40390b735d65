"""PDF signing: PAdES (pades), the leader-then-seal check of personal signatures
(personal), the attachment/copy block font (font) and the room for it on page 1 (room)."""
