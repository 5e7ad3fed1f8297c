"""Image downloads, and what message content may make this process fetch or read.

Arli's vision models take base64 only, so an image URL inside a chat message is fetched by
*our* process. Messages may come from untrusted users, so message content gets a stricter
rule than the arguments a programmer passes (:class:`ImageSourcePolicy`):

- ``data:`` URIs and base64 are always accepted;
- http(s) URLs only to **public** addresses: the host is resolved first and every address
  it resolves to is checked (loopback, private, link-local, multicast, reserved,
  unspecified, carrier-grade NAT, unique-local IPv6 and IPv4 addresses embedded in IPv6 -
  ``::ffff:127.0.0.1``, 6to4, Teredo, NAT64 - are refused; so are numeric spellings such as
  ``0x7f.1`` or ``2130706433``, which resolve to 127.0.0.1). Every redirect is checked the
  same way (redirects are followed here, at most 5).
- the connection goes to the address that was checked (the URL is rewritten to the IP;
  the ``Host`` header and the TLS server name stay the host's, so certificates are still
  verified against it): a DNS answer that changes between the check and the connection
  (DNS rebinding) cannot redirect us. Limit: behind an HTTP proxy (``HTTP(S)_PROXY``) the
  proxy connects, to the checked IP;
- hosts named in ``allowed_image_hosts`` are the only ones fetched (``"*"`` in the list:
  any public host too); a named host is fetched whatever its addresses (an internal image
  server);
- local file paths only with ``allow_local_files=True``.

Explicit arguments (a loader's path, an init image of ``img2img``) use no policy.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from arli._errors import (
    ArliConnectionError,
    ArliStatusError,
    ArliTimeoutError,
    ArliValidationError,
    AuthenticationError,
    status_error_class,
)
from arli._version import __version__

__all__ = [
    "DEFAULT_FETCH_TIMEOUT",
    "DEFAULT_MAX_IMAGE_BYTES",
    "ImageSourcePolicy",
    "afetch_url",
    "fetch_url",
    "is_http_url",
    "resolve_host",
    "shown_url",
]

#: Largest image accepted from any source (bytes), unless a caller says otherwise.
DEFAULT_MAX_IMAGE_BYTES = 20 * 2**20
#: Seconds allowed to download an image URL.
DEFAULT_FETCH_TIMEOUT = 30.0
_MAX_REDIRECTS = 5
_USER_AGENT = f"arli-integrations/{__version__} (image fetch)"
_TIMEOUT_PHASES: dict[type[Exception], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-FxX.]+$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_http_url(value: str) -> bool:
    """True for ``http://`` and ``https://`` URLs."""
    return value[:8].lower().startswith(("http://", "https://"))


def shown_url(url: str) -> str:
    """``url`` for an error message: without user:password, at most 200 characters."""
    try:
        parsed = httpx.URL(url)
        if parsed.userinfo:
            url = str(parsed.copy_with(userinfo=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        url = re.sub(r"//[^/@]*@", "//", url)
    return url[:200]


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (``socket.getaddrinfo``; tests replace it).

    Raises:
        OSError: the name does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refused_reason(ip: IPAddress) -> str | None:
    """What ``ip`` is when it is not public (``"a loopback address"``...), else ``None``."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            why = refused_reason(inner)
            return f"an IPv6 form of {inner} ({why})" if why else None
    checks = (
        (ip.is_loopback, "a loopback"),
        (ip.is_link_local, "a link-local"),
        (ip.is_multicast, "a multicast"),
        (ip.is_unspecified, "an unspecified"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "a shared (carrier-grade NAT)"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "a site-local"),
        (ip.is_reserved, "a reserved"),
        (ip.is_private, "a private"),
        (not ip.is_global, "a non-public"),
    )
    for hit, why in checks:
        if hit:
            return f"{why} address"
    return None


def _literal(host: str) -> IPAddress | None:
    """``host`` as an address when it is one: IPv6, dotted IPv4, or a legacy numeric form."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host) and any(c.isdigit() for c in host):
        try:  # 0x7f.1, 2130706433, 0177.0.0.1, 127.1: what inet_aton (and so connect) accepts
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True, slots=True)
class ImageSourcePolicy:
    """What image sources named inside message content may be fetched or read.

    Attributes:
        allow_local_files: read local file paths named in messages (default False).
        allowed_image_hosts: ``None`` (default): any public http(s) host. A list: only
            these hosts (exact names or IP literals, ``*.example.com`` for subdomains,
            case-insensitive), whatever addresses they resolve to - so an internal image
            server can be named; ``"*"`` in the list also allows any public host.
    """

    allow_local_files: bool = False
    allowed_image_hosts: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls, allow_local_files: object = False, allowed_image_hosts: Iterable[str] | None = None
    ) -> ImageSourcePolicy:
        """A policy from the constructor options of the same names (checked).

        Raises:
            ArliValidationError: a host that is not a string, or ``allowed_image_hosts``
                given as one string.
        """
        if not isinstance(allow_local_files, bool):
            msg = f"allow_local_files must be True or False, not {allow_local_files!r}"
            raise ArliValidationError(msg, field="allow_local_files", allowed="True or False")
        if allowed_image_hosts is None:
            return cls(allow_local_files, None)
        if isinstance(allowed_image_hosts, str):
            msg = "allowed_image_hosts must be a list of host names, not one string"
            raise ArliValidationError(msg, field="allowed_image_hosts", allowed="a list of hosts")
        hosts = tuple(allowed_image_hosts)
        for host in hosts:
            if not isinstance(host, str) or not host.strip() or "/" in host:
                msg = f"allowed_image_hosts holds {host!r}: give host names, not URLs"
                raise ArliValidationError(msg, field="allowed_image_hosts", allowed="host names")
        return cls(allow_local_files, tuple(h.strip().lower().rstrip(".") for h in hosts))

    def names(self, host: str) -> bool:
        """Whether ``host`` is named in :attr:`allowed_image_hosts`."""
        host = host.lower().rstrip(".").strip("[]")
        for entry in self.allowed_image_hosts or ():
            if entry == host or (entry.startswith("*.") and host.endswith(entry[1:])):
                return True
        return False

    def public_allowed(self) -> bool:
        """Whether any public host may be fetched."""
        return self.allowed_image_hosts is None or "*" in self.allowed_image_hosts

    def refuse(self, url: str, what: str, *, allowed: str) -> ArliValidationError:
        """The error for a URL this policy refuses."""
        msg = f"the image URL {shown_url(url)} in a message is refused: {what}"
        return ArliValidationError(msg, field="image", allowed=allowed)


_HOSTS_HINT = (
    "name the host in allowed_image_hosts=[...] if it is yours, or pass the image itself "
    "(bytes or a data: URI)"
)


class _Download:
    """The steps shared by the sync and async downloaders: checks, redirects, size cap."""

    def __init__(self, url: str, max_bytes: int, policy: ImageSourcePolicy | None):
        if not is_http_url(url):
            msg = f"only http:// and https:// URLs can be downloaded, not {url[:80]!r}"
            raise ArliValidationError(msg, field="image", allowed="http, https")
        self.url = url
        self.current = url
        self.max_bytes = max_bytes
        self.policy = policy
        self.redirects = 0
        self.parts: list[bytes] = []
        self.size = 0

    def lookup(self) -> tuple[str, int] | None:
        """The ``(host, port)`` to resolve before the next request (``None``: nothing to)."""
        if self.policy is None:
            return None
        try:
            parsed = httpx.URL(self.current)
        except httpx.InvalidURL:
            return None  # httpx refuses it when sending: error() names it
        host = parsed.host
        if self.policy.names(host):
            return None
        if not self.policy.public_allowed():
            raise self.policy.refuse(
                self.current, f"{host} is not in allowed_image_hosts", allowed="the hosts named"
            )
        if _literal(host) is not None:
            return None  # checked in request() without a lookup
        return host, parsed.port or (443 if parsed.scheme == "https" else 80)

    def request(self, addresses: list[str] | None) -> tuple[str, dict[str, Any]]:
        """The URL to connect to (the checked address) and the request's extensions.

        Raises:
            ArliValidationError: an address the policy refuses.
            ArliConnectionError: a name that does not resolve.
        """
        if self.policy is None:
            return self.current, {}
        parsed = httpx.URL(self.current)
        if self.policy.names(parsed.host):
            return self.current, {}
        literal = _literal(parsed.host)
        if literal is not None:
            found = [literal]
        elif not addresses:
            msg = f"could not download {shown_url(self.url)}: {parsed.host} does not resolve"
            raise ArliConnectionError(msg, method="GET", url=shown_url(self.current))
        else:
            found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
        for ip in found:
            why = refused_reason(ip)
            if why is not None:
                if literal is None:
                    where = f"{parsed.host} resolves to {ip},"
                elif str(ip) == parsed.host.strip("[]") or why.startswith("an IPv6 form"):
                    where = f"{parsed.host} is"
                else:
                    where = f"{parsed.host} is {ip},"
                raise self.policy.refuse(
                    self.current,
                    f"{where} {why}; {_HOSTS_HINT}",
                    allowed="public hosts, or those in allowed_image_hosts",
                )
        pinned = parsed.copy_with(host=str(found[0]))
        extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
        return str(pinned), extensions

    def headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        """The request headers (``Host`` is the URL's host when the URL was pinned)."""
        hdrs = {"User-Agent": _USER_AGENT, **(extra or {})}
        if self.policy is not None:
            hdrs["Host"] = httpx.URL(self.current).netloc.decode("ascii")
        return hdrs

    def follow(self, response: httpx.Response) -> bool:
        """Handle a response's head; True when it redirected (``current`` is the new URL)."""
        if response.is_redirect:
            self.redirects += 1
            if self.redirects > _MAX_REDIRECTS:
                msg = f"{shown_url(self.url)} redirected more than {_MAX_REDIRECTS} times"
                raise ArliValidationError(msg, field="image")
            location = response.headers.get("location")
            if not location:
                msg = f"{shown_url(self.current)} redirected without a Location header"
                raise ArliValidationError(msg, field="image")
            target = str(httpx.URL(self.current).join(location))
            if not is_http_url(target):
                msg = (
                    f"{shown_url(self.current)} redirected to a non-http(s) URL ({target[:80]}); "
                    "refusing to follow"
                )
                raise ArliValidationError(msg, field="image", allowed="http, https")
            self.current = target
            return True
        if response.status_code >= 400:
            raise self._refused(response)
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            raise self._too_big(f"{length} bytes, ")
        return False

    def add(self, chunk: bytes) -> None:
        """Take one chunk of the body, enforcing the size cap."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise self._too_big("")
        self.parts.append(chunk)

    def _too_big(self, got: str) -> ArliValidationError:
        msg = f"{shown_url(self.current)} is {got}more than the {self.max_bytes} byte limit"
        return ArliValidationError(msg, field="image", allowed=f"<= {self.max_bytes} bytes")

    def _refused(self, response: httpx.Response) -> ArliStatusError:
        """An error status as the status error of that status.

        A 401 is a plain :class:`~arli.ArliStatusError`: no key is sent to an image host,
        so the API-key advice of :class:`~arli.AuthenticationError` would mislead.
        """
        status = response.status_code
        cls = status_error_class(status)
        if cls is AuthenticationError:
            cls = ArliStatusError
        reason = f" ({response.reason_phrase})" if response.reason_phrase else ""
        return cls(
            f"the download failed{reason}",
            status_code=status,
            request_id=response.headers.get("x-request-id"),
            method="GET",
            url=shown_url(self.current),
        )

    def error(self, exc: Exception) -> ArliConnectionError | ArliValidationError:
        """A failure to download, naming the URL.

        A network failure or timeout is an :class:`~arli.ArliConnectionError` (an
        :class:`~arli.ArliTimeoutError`); a redirect to a URL httpx cannot even build
        (``InvalidURL``) is refused as invalid input, like the other bad redirects.
        """
        msg = f"could not download {shown_url(self.url)}: {type(exc).__name__}: {exc}"
        url = shown_url(self.current)
        if isinstance(exc, httpx.TimeoutException):
            phase = _TIMEOUT_PHASES.get(type(exc), "read")
            return ArliTimeoutError(msg, method="GET", url=url, phase=phase)
        if isinstance(exc, httpx.HTTPError):
            return ArliConnectionError(msg, method="GET", url=url)
        return ArliValidationError(msg, field="image")


def _resolved(target: tuple[str, int] | None) -> list[str] | None:
    if target is None:
        return None
    try:
        return resolve_host(*target)
    except OSError:
        return []


def fetch_url(
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    http_client: httpx.Client | None = None,
    headers: Mapping[str, str] | None = None,
    policy: ImageSourcePolicy | None = None,
) -> tuple[bytes, str | None]:
    """Download an http(s) URL with a size cap; return ``(bytes, content type)``.

    Redirects are followed (at most 5) only to http(s) URLs; no credentials are sent.
    With a ``policy`` (message content), every hop is checked and pinned as the module
    docstring says.

    Raises:
        ArliValidationError: a bad scheme or redirect, more than ``max_bytes``, or a host
            or address the policy refuses.
        ArliStatusError: the host answered an error status (typed by status).
        ArliConnectionError: the host could not be reached, or timed out.
    """
    job = _Download(url, max_bytes, policy)
    client = http_client or httpx.Client()
    try:
        while True:
            target, extensions = job.request(_resolved(job.lookup()))
            with client.stream(
                "GET",
                target,
                timeout=timeout,
                headers=job.headers(headers),
                follow_redirects=False,
                extensions=extensions,
            ) as resp:
                if job.follow(resp):
                    continue
                for chunk in resp.iter_bytes():
                    job.add(chunk)
                return b"".join(job.parts), resp.headers.get("content-type")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise job.error(exc) from None
    finally:
        if http_client is None:
            client.close()


async def afetch_url(
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    http_client: httpx.AsyncClient | None = None,
    headers: Mapping[str, str] | None = None,
    policy: ImageSourcePolicy | None = None,
) -> tuple[bytes, str | None]:
    """Async :func:`fetch_url` (name lookups run in a worker thread)."""
    import anyio.to_thread  # noqa: PLC0415 - only async downloads need it

    job = _Download(url, max_bytes, policy)
    client = http_client or httpx.AsyncClient()
    try:
        while True:
            lookup = job.lookup()
            addresses = await anyio.to_thread.run_sync(_resolved, lookup) if lookup else None
            target, extensions = job.request(addresses)
            async with client.stream(
                "GET",
                target,
                timeout=timeout,
                headers=job.headers(headers),
                follow_redirects=False,
                extensions=extensions,
            ) as resp:
                if job.follow(resp):
                    continue
                async for chunk in resp.aiter_bytes():
                    job.add(chunk)
                return b"".join(job.parts), resp.headers.get("content-type")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise job.error(exc) from None
    finally:
        if http_client is None:
            await client.aclose()
