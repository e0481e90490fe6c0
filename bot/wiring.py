"""Start-up wiring: the channels a deployment has, handed to the rooms that need them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

from bot.channels import CONSOLE, DELIVERY_LOG, ChannelRegistry, ConsoleDeliveryChannel
from bot.digest_text import digest_text
from crm_store.store import Store
from handlers.contracts import Channel
from scheduler.delivery import Formatter

if TYPE_CHECKING:  # chromadb, langchain and the model load only where questions are answered
    from retrieval.search import Retriever

# A staff member's digest goes to the first of these they are bound on.
CHANNEL_PREFERENCE = ("wecom", "telegram", CONSOLE)


def delivery_channels(
    store: Store, platforms: Mapping[str, Channel] | None = None
) -> dict[str, Channel]:
    """The channels digests go out on, the one rule for every process that delivers.

    REMINDER_CHANNEL=console: the console delivery log alone (demo, tests). Otherwise the
    platforms' channels only: `serve` passes its adapters' channels, a process without the
    web app those of `reminder_router`. No platform means no channel: digests then wait as
    undeliverable, never "sent" to a file nobody reads.
    """
    if store.settings.reminder_channel == CONSOLE:
        return {CONSOLE: ConsoleDeliveryChannel(store.settings.home / DELIVERY_LOG)}
    return dict(platforms or {})


def build_router(store: Store, channels: Mapping[str, Channel] | None = None) -> ChannelRegistry:
    """The registry that routes each staff member to their private channel."""
    chosen = delivery_channels(store) if channels is None else channels
    return ChannelRegistry(store.db, chosen, CHANNEL_PREFERENCE)


@contextmanager
def reminder_router(store: Store) -> Iterator[ChannelRegistry]:
    """The router of a process without the web app (`reminders`, `scheduler`): the
    platforms' channels built from the settings, their connections closed afterwards."""
    if store.settings.reminder_channel == CONSOLE:
        yield build_router(store)
        return
    from bot.platform_channels import platform_channels

    built = platform_channels(store)
    try:
        yield build_router(store, delivery_channels(store, built.channels))
    finally:
        built.close()


def build_formatter(store: Store) -> Formatter:
    """The digest formatter in the deployment's language."""
    return partial(digest_text, lang=store.settings.bankbot_lang)


def build_retriever(store: Store, *, only_existing: bool = False) -> Retriever | None:
    """The note index and chat model for questions, or None when no index can be used.

    `only_existing`: open the embedded index only if its folder exists (a one-off `ask` must
    not create an empty index); CHROMA_URL always counts as configured. Raises RetrievalError
    (for example IndexBusy, naming CHROMA_URL) when the index is there but cannot be opened.
    """
    from retrieval.config import IndexSettings, chroma_folder
    from retrieval.connect import open_index
    from retrieval.llm import LlmSettings, make_chat_model
    from retrieval.llm_gate import LlmGate
    from retrieval.search import Retriever

    config = IndexSettings()
    if only_existing and not config.chroma_url and not chroma_folder(store.settings).is_dir():
        return None
    llm = LlmSettings()
    index = open_index(store.settings, config=config, db=store.db)
    try:
        model = make_chat_model(llm)
    except BaseException:
        index.close()
        raise
    return Retriever(
        index,
        model,
        timeout=llm.llm_timeout_seconds,
        lang=store.settings.bankbot_lang,
        allowed_link_hosts=llm.allowed_link_hosts,
        gate=LlmGate(llm.llm_max_concurrency),
    )
