"""Access control: the one choke point between an API request and stored data.

scope.py      ReadScope: what one reader may see, as data the store compiles to SQL
guard.py      Access: every read of a request (and the reads inside its writes) goes
              through it; PDL decisions, token scopes, the audit record
emergency.py  emergency access (nödöppning): grants, their store, the operation
"""
