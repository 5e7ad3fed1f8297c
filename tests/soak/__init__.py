"""The soak test: many concurrent async chats and streams through both skins, with faults.

``make soak`` (``python -m tests.soak``) runs rounds of ``--concurrency`` concurrent calls
(half ``ainvoke``/``achat``, half ``astream``/``astream_chat``) through LangChain's
``ChatArli`` and LlamaIndex's ``Arli`` against the reference server, which runs in its own
process on 127.0.0.1 and answers a random share of the calls with a fault (429 with
``Retry-After``, 503, a connection reset before the answer or inside it, a truncated
stream). It fails (exit status 1) unless every call returned the valid answer or raised an
:class:`~arli.ArliError`, none hung, no pooled connection stayed checked out, the open
sockets and threads came back to their baseline and the resident memory grew by less than
the bound between the first and the last round. See :mod:`tests.soak.run`.
"""
