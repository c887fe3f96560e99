"""The words servers use for each reason, in English and the languages of the big providers'
own bounces (German, French, Spanish, Italian, Portuguese, Dutch, Polish, Russian, Japanese, Chinese).

Two ordered lists. SENDER_SIDE is tried before the status code: a refusal of the sender, its IP
or its message is never the address's fault, even when the server calls it 5.1.1. RECIPIENT_SIDE
is tried after the specific status codes; within it the soft reasons come before the hard ones,
so "mailbox unavailable: over quota" is a full mailbox, never an unknown user.
"""

import re


def _compile(pairs: list[tuple[str, str]]) -> list[tuple[str, re.Pattern]]:
    return [(reason, re.compile(pattern, re.IGNORECASE)) for reason, pattern in pairs]


# Vendor tokens that name an unknown recipient in words the sender-side list would take for a policy.
ADDRESS_FIRST = _compile(
    [
        (
            "userunknown",
            (
                r"AS\(201806281\)|RESOLVER\.ADR\.(RecipNotFound|RecipientNotFound|ExRecipNotFound)|mailbox not found or access denied"
                r"|RecipientNotFound|not listed in (the )?(domino )?directory"
            ),
        ),
    ]
)

SENDER_SIDE = _compile(
    [
        (
            "ratelimited",
            (
                r"rate limit|rate-limit|too many (messages|connections|emails|concurrent)|throttl"
                r"|receiving mail at a rate|unexpected volume|temporarily deferred|greylist|graylist|grey-list|gray-list"
                r"|unusual rate|unusual (sending )?activity|exceeded the (daily |hourly )?(sending |rate )?limit|mail flood|slow down|connection limit"
                r"|发送频率|频率过快|過多"
            ),
        ),
        (
            "securityerror",
            (
                r"dmarc|\bspf\b|dkim|unauthenticated|authentication (required|failed|checks)|not pass authentication"
                r"|reverse dns|\bptr\b|starttls|tls required|encryption required|must be authenticated|sender id"
            ),
        ),
        ("virusdetected", r"virus|malware|infected|trojan|病毒"),
        (
            "spamdetected",
            (
                r"\bspam\b|spammy|junk mail|unsolicited|phish|suspicious|bulk mail|content (was )?(rejected|filter)"
                r"|message content|垃圾邮件|垃圾郵件|迷惑メール|スパム|\bDT:SPM\b"
            ),
        ),
        (
            "blocked",
            (
                r"block ?list|blocked|blacklist|black list|spamhaus|barracuda|spamcop|sorbs|\brbl\b|\bdnsbl\b|reputation"
                r"|listed (at|on|in)|poor sending|client host rejected|connection refused by|banned|denylist|deny list"
                r"|\bIP\b.{0,40}\b(rejected|refused|not allowed)"
            ),
        ),
        (
            "norelaying",
            r"relay(ing)? (access )?(denied|not permitted|prohibited)|not permitted to relay|unable to relay|relay not permitted|we do not relay",
        ),
        (
            "rejected",
            (
                r"sender (address )?(rejected|refused|denied|verify failed|unknown|domain)|from address (rejected|refused)"
                r"|envelope sender|return path|invalid dns (mx|a)|mail from.{0,20}(rejected|refused)|domain of sender|sender is not allowed"
            ),
        ),
        (
            "policyviolation",
            r"policy|not permitted|prohibited|not authori[sz]ed|administrative prohibition|access denied|denied by",
        ),
        (
            "filtered",
            r"refused by (the )?recipient|수신 ?거부|recipient('s)? (filter|rules|settings)|rejected by recipient|受信拒否|拒收|拒絕",
        ),
    ]
)

RECIPIENT_SIDE = _compile(
    [
        (
            "networkerror",
            (
                r"delivery temporarily suspended|connection timed out|timed out|connection refused|no route to host"
                r"|network is unreachable|dns (lookup )?(error|failure|timeout)|temporary lookup failure|name server (timeout|failure)"
                r"|lost connection|connection (reset|dropped|closed)|routing loop|mail loop|too many hops"
            ),
        ),
        (
            "mailboxfull",
            (
                r"mailbox (is )?full|mail ?box.{0,20}full|over ?quota|quota (exceeded|full)|exceeded (its|the|his|her|their) "
                r"(storage|quota)|out of storage|insufficient (disk|storage)|mailbox size limit|storage (full|allocation|limit)"
                r"|inbox is full|user.{0,10}full|no space|quota|Postfach (ist )?voll|Speicherplatz|boîte (aux lettres )?(est )?pleine"
                r"|buz[oó]n (est[aá] )?lleno|casella (di posta )?(è )?piena|caixa (postal )?(est[aá] )?cheia|skrzynka.{0,20}pe[lł]na"
                r"|ящик переполнен|переполнен|용량|가득|容量|いっぱい|満杯|邮箱已满|空间不足|容量不足|信箱已满|郵箱已滿"
            ),
        ),
        (
            "mesgtoobig",
            (
                r"message (is )?too (big|large)|message size|size limit|exceeds (the )?(maximum|max) (message )?size"
                r"|larger than (the )?(current )?(system )?limit|message length exceeds|邮件(大小)?超过|サイズ"
            ),
        ),
        ("exceedlimit", r"too many recipients|recipient limit|exceeded (the )?limit"),
        (
            "suspend",
            (
                r"disabled|inactive|suspended|deactivated|locked|frozen|on hold|temporarily unavailable|not active"
                r"|account (is )?(closed|expired)|停用|冻结|凍結|休止"
            ),
        ),
        (
            "hostunknown",
            (
                r"host or domain name not found|(domain|host) (name )?not found|no such domain|unknown domain|domain does ?n[o']t exist"
                r"|couldn't find any host|unrouteable (mail )?(domain|address)|nxdomain|unknown host|host unknown|domain (is )?invalid"
                r"|no mx (record|host)|nonexistent domain|non-existent domain|domain not found|域名不存在|ドメインが(存在|見つかり)"
            ),
        ),
        ("notaccept", r"null ?mx|does not accept (e-?)?mail|accepts no mail|not accepting mail"),
        (
            "hasmoved",
            r"has moved|moved permanently|no longer (valid|available|in use|active|with us)|user has moved|address changed",
        ),
        (
            "userunknown",
            (
                r"user unknown|unknown user|no such (user|mailbox|recipient|account|address|person)|does ?n[o']t exist|do(es)? not exist"
                r"|unknown recipient|recipient unknown|invalid (recipient|mailbox|address|user)|(user|mailbox|recipient|address|account)"
                r" (was )?not found|recipnotfound|recipientnotfound|no mailbox|unknown local.part|mailbox unavailable"
                r"|doesn't have an? [\w.-]+ account|not a valid (mailbox|user|recipient)|address (is )?unknown"
                r"|not listed in (the )?(domino )?(public )?directory|addressee unknown|bad destination mailbox|no account"
                r"|not a known user|unknown address|address rejected|unknown or illegal|account (is )?unavailable"
                r"|could(n't| not) be found|is not a valid|not our customer|recipient rejected|mailbox not available"
                r"|Benutzer (ist )?unbekannt|unbekannte?r? (Empf[aä]nger|Benutzer)|existiert nicht|Empf[aä]nger.{0,20}nicht gefunden"
                r"|utilisateur inconnu|destinataire inconnu|n'existe pas|adresse (est )?(inconnue|introuvable|invalide)"
                r"|usuario (desconocido|no existe)|destinatario (desconocido|sconosciuto|inesistente)|no existe"
                r"|utente (sconosciuto|inesistente)|indirizzo inesistente|usu[aá]rio (desconhecido|inexistente)|n[aã]o existe"
                r"|onbekende (gebruiker|ontvanger)|bestaat niet|nie istnieje|nieznany u[zż]ytkownik|не существует"
                r"|пользователь не найден|нет такого|用户不存在|用戶不存在|收件人不存在|地址不存在|账户不存在|帐号不存在|不存在"
                r"|宛先不明|存在しません|見つかりません|ユーザが(いません|存在)|존재하지 않|없는 (사용자|주소)"
            ),
        ),
        (
            "expired",
            (
                r"expired|retry time(out)? (not reached|exceeded)|too long in (the )?queue|could not be delivered within"
                r"|gave up|giving up|delivery time|queue timeout|time limit"
            ),
        ),
        ("systemfull", r"insufficient system storage|system (storage|disk) (is )?full|disk full"),
        (
            "systemerror",
            (
                r"local error|internal (server )?error|system error|server error|temporary (system )?(failure|problem|error)"
                r"|service (temporarily )?unavailable|try (again )?later|please retry|configuration error|resources"
            ),
        ),
        ("contenterror", r"line too long|header|mime|8bit|malformed|bad content|content type|character set"),
        (
            "syntaxerror",
            r"syntax error|command (not )?(recognized|unrecognized|implemented)|bad sequence|unrecognized command",
        ),
    ]
)


def match(patterns: list[tuple[str, re.Pattern]], text: str) -> str | None:
    return next((reason for reason, pattern in patterns if pattern.search(text)), None)
