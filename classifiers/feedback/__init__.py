"""Flags: "this answer is wrong, it is X", from anyone who sees an answer;
staff review them per demo and add the photo, rightly labelled, to the
demo's evaluation set (or dismiss them)."""
