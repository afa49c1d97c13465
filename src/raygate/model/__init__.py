"""The exposure model: for every path from outside to a Ray head, what serves it and what
protects it. Computed once per ObjectSet and read by rules, doctor, render, the lab and apply.
"""
