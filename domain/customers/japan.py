"""Japanese address data: prefectures (JIS X 0401) and postal codes (〒NNN-NNNN)."""

from __future__ import annotations

import re
import unicodedata

from domain.shared.errors import InvalidInput

# JIS X 0401 code -> (name, romaji). Codes are two digits, 01 Hokkaido to 47 Okinawa.
PREFECTURES: dict[str, tuple[str, str]] = {
    "01": ("北海道", "Hokkaido"), "02": ("青森県", "Aomori"), "03": ("岩手県", "Iwate"),
    "04": ("宮城県", "Miyagi"), "05": ("秋田県", "Akita"), "06": ("山形県", "Yamagata"),
    "07": ("福島県", "Fukushima"), "08": ("茨城県", "Ibaraki"), "09": ("栃木県", "Tochigi"),
    "10": ("群馬県", "Gunma"), "11": ("埼玉県", "Saitama"), "12": ("千葉県", "Chiba"),
    "13": ("東京都", "Tokyo"), "14": ("神奈川県", "Kanagawa"), "15": ("新潟県", "Niigata"),
    "16": ("富山県", "Toyama"), "17": ("石川県", "Ishikawa"), "18": ("福井県", "Fukui"),
    "19": ("山梨県", "Yamanashi"), "20": ("長野県", "Nagano"), "21": ("岐阜県", "Gifu"),
    "22": ("静岡県", "Shizuoka"), "23": ("愛知県", "Aichi"), "24": ("三重県", "Mie"),
    "25": ("滋賀県", "Shiga"), "26": ("京都府", "Kyoto"), "27": ("大阪府", "Osaka"),
    "28": ("兵庫県", "Hyogo"), "29": ("奈良県", "Nara"), "30": ("和歌山県", "Wakayama"),
    "31": ("鳥取県", "Tottori"), "32": ("島根県", "Shimane"), "33": ("岡山県", "Okayama"),
    "34": ("広島県", "Hiroshima"), "35": ("山口県", "Yamaguchi"), "36": ("徳島県", "Tokushima"),
    "37": ("香川県", "Kagawa"), "38": ("愛媛県", "Ehime"), "39": ("高知県", "Kochi"),
    "40": ("福岡県", "Fukuoka"), "41": ("佐賀県", "Saga"), "42": ("長崎県", "Nagasaki"),
    "43": ("熊本県", "Kumamoto"), "44": ("大分県", "Oita"), "45": ("宮崎県", "Miyazaki"),
    "46": ("鹿児島県", "Kagoshima"), "47": ("沖縄県", "Okinawa"),
}


def _lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for code, (name, romaji) in PREFECTURES.items():
        short = name if name == "北海道" else name[:-1]  # 東京都 -> 東京
        for key in (code, str(int(code)), name, short, romaji.lower()):
            table[key] = code
    return table


_BY_NAME = _lookup()
_POSTAL = re.compile(r"^(\d{3})-?(\d{4})$")


def prefecture_code(value: str, *, field: str = "address.prefecture") -> str:
    """A prefecture by JIS code ("13", "13" in full width, 13) or name ("東京都", "東京", "Tokyo")."""
    key = unicodedata.normalize("NFKC", str(value)).strip()
    code = _BY_NAME.get(key) or _BY_NAME.get(key.lower())
    if code is None:
        raise InvalidInput(f"{value!r} is not a prefecture (JIS X 0401 code or name)", field=field)
    return code


def prefecture_name(code: str) -> str:
    return PREFECTURES[code][0]


def postal_code(value: str, *, field: str = "address.postal_code") -> str:
    """〒 and full-width digits accepted; stored as NNN-NNNN."""
    text = unicodedata.normalize("NFKC", value).strip().removeprefix("〒").strip()
    text = text.replace("ー", "-").replace("−", "-").replace("‐", "-")
    found = _POSTAL.fullmatch(text)
    if found is None:
        raise InvalidInput("postal codes are 7 digits, as NNN-NNNN", field=field)
    return f"{found.group(1)}-{found.group(2)}"
