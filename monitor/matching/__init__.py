"""The watch-rule language: fold and tokenize text, parse queries, match articles against rules."""

from __future__ import annotations

from monitor.errors import QueryError
from monitor.matching.matcher import Document, Hit, Matcher
from monitor.matching.query import And, Near, Node, Not, Or, Term, parse, terms
from monitor.matching.rule import compile_rule, describe_rule
from monitor.matching.text import Token, fold, tokenize

__all__ = [
    "And",
    "Document",
    "Hit",
    "Matcher",
    "Near",
    "Node",
    "Not",
    "Or",
    "QueryError",
    "Term",
    "Token",
    "compile_rule",
    "describe_rule",
    "fold",
    "parse",
    "terms",
    "tokenize",
]
