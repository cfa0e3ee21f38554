"""Citizens' side: a scanned code to a survey, and a submitted form to one stored response.

- `surveys`: the counter a token names, and the instrument its unit uses that day.
- `form_nonce`: the signed single-use nonce issued with every form (one response per form).
- `submissions`: strict validation of a posted form, then storing it exactly once.
- `text`: the canonical form of free text before it is checked and stored.
"""
