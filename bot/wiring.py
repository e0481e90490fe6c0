"""Start-up wiring: the channels a deployment has, handed to the rooms that need them."""

from __future__ import annotations

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


def delivery_channels(store: Store) -> dict[str, Channel]:
    """The channels reminders can go out on; the console log until platforms are configured."""
    return {CONSOLE: ConsoleDeliveryChannel(store.settings.home / DELIVERY_LOG)}


def build_router(store: Store, channels: dict[str, Channel] | None = None) -> ChannelRegistry:
    """The registry that routes each staff member to their private channel."""
    return ChannelRegistry(store.db, channels or delivery_channels(store), CHANNEL_PREFERENCE)


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
    from retrieval.search import Retriever

    config = IndexSettings()
    if only_existing and not config.chroma_url and not chroma_folder(store.settings).is_dir():
        return None
    llm = LlmSettings()
    index = open_index(store.settings, config=config)
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
    )
