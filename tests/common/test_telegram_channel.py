"""The telegram channel's rules: which chats `to` takes, and Telegram's own length count."""

from __future__ import annotations

import pytest

from common.channels.telegram import MAX_TEXT, chat_problem, telegram_text_problems, utf16_length


@pytest.mark.parametrize("chat", [
    "123456789",  # a user
    "-4012345678",  # a group
    "-1001234567890",  # a supergroup or channel
    str(2 ** 52 - 1),  # Telegram's largest: 52 significant bits
    "@herald_news",
    "@abcde",  # 5 characters, the shortest username
    "@" + "a" * 32,  # the longest
])
def test_chats_telegram_accepts(chat):
    assert chat_problem(chat) is None


@pytest.mark.parametrize("chat", [
    "", "0", "-0", "0123", "+123456789", "12 34", "1e9", "١٢٣٤٥",  # Arabic-Indic digits
    str(2 ** 52), "-" + str(2 ** 52),
    "herald_news", "@abcd", "@" + "a" * 33, "@1herald", "@herald_", "@herald-news", "@herald news",
    "@herald_news\n", "123456789\n", "@héraldnews",
])
def test_chats_refused(chat):
    assert "not a Telegram chat" in chat_problem(chat)


def test_text_is_counted_in_utf16_code_units_as_telegram_counts_it():
    assert utf16_length("abc") == 3
    assert utf16_length("👋") == 2  # outside the Basic Multilingual Plane
    fits = "👋" * (MAX_TEXT // 2)
    assert telegram_text_problems({"text": fits}, None) == ({}, {})

    problems, too_large = telegram_text_problems({"text": fits + "!"}, None)

    assert problems == {}
    assert too_large == {"content.text": "4097 characters as Telegram counts them (UTF-16 code units), "
                                         "more than Telegram's limit of 4096"}
