"""Reading what a relationship manager typed: normalise, find the slots, decide the intent.

Each step is testable alone: `normalise.clean` (a copy of the text for reading), `slots.find`
(customers, periods, money, fields, products, segments, tags), `decide.decide` (rules over the
slots, then the semantic router over example phrasings for what the rules leave open).
Understanding changes what is asked, never who may see what: customers are found through the
permission-aware look-up only.
"""
