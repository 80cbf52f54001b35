"""Thin Starlette endpoints: parse, one service call, respond."""
