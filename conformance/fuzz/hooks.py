"""Schemathesis hooks: keep the fuzzer's own administrator account out of its reach.

The fuzzer acts as one administrator with one access token. Were it to disable or remove
that account, end its sessions or reset its factors, the token would be revoked (as it
should be) and every later request refused with 401, which the document allows: the rest
of the run would test nothing and still pass. So a changing request that names the account
(its id or username) or one of its sessions is sent to an id that does not exist instead.
Every other account, session, client and key stays fair game.
"""

import json
import os

import schemathesis

PROTECTED = frozenset(json.loads(os.environ.get("FUZZ_PROTECTED_IDS", "[]")))
CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.method.upper() not in CHANGES or not case.path_parameters:
        return
    for name, value in case.path_parameters.items():
        if str(value) in PROTECTED:
            case.path_parameters[name] = "not-the-fuzzing-administrator"
