"""Credit: decides whether the outside firm gets credit for a lead, with reasons, and
keeps the decisions' history."""
