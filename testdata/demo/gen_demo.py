#!/usr/bin/env python3
"""Generate mxarchive's fictional demo and import fixture data.

Regenerate (from the repository root) with:

    python3 testdata/demo/gen_demo.py

It writes, deterministically (same bytes on every run, standard library only):

    testdata/demo/ansible-community.ndjson   room v10, ~150 events over 6 days
    testdata/demo/opendev-infra.ndjson       room v11, ~60 events over 3 days
    testdata/import/element-export.json      an Element "Export chat" JSON file
    testdata/import/malformed.ndjson         5 valid events and 3 bad lines

The .ndjson files hold one event per line in client-server API format, as
GET /_matrix/client/v3/rooms/{roomId}/messages returns them, oldest first.
All people, rooms and conversations are fictional. Event IDs are room v4+
style ("$" + 43 URL-safe base64 characters) derived from a SHA-256 of a
per-room counter. After writing, the script validates every file (JSON
parses, IDs unique, relations target existing events in the same room,
timestamps strictly increasing) and prints a summary; it exits non-zero if
a check fails. Edit the conversations below and rerun to change the data.
"""

import base64
import collections
import datetime
import hashlib
import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_DIR = HERE
IMPORT_DIR = os.path.join(os.path.dirname(HERE), "import")

HTML = "org.matrix.custom.html"
EVENT_ID_RE = re.compile(r"^\$[A-Za-z0-9_-]{43}$")


# --------------------------------------------------------------------------
# Helpers: IDs, time, a tiny Markdown renderer imitating Element's output
# --------------------------------------------------------------------------


def event_id(seed, n):
    digest = hashlib.sha256(("%s/%d" % (seed, n)).encode()).digest()
    return "$" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def media_id(seed):
    raw = base64.b64encode(hashlib.sha256(seed.encode()).digest() * 2).decode()
    return "".join(c for c in raw if c.isalpha())[:24]


def ms(stamp):
    """'2026-03-02 09:02:00' (UTC) -> milliseconds since the epoch."""
    dt = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    return int(dt.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def inline(s):
    """Inline Markdown: `code`, **bold**, *em*, [text](url)."""
    out = []
    pos = 0
    pattern = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|\*([^*\s][^*]*)\*|\[([^\]]+)\]\((https?://[^)\s]+)\)")
    for m in pattern.finditer(s):
        out.append(esc(s[pos:m.start()]))
        if m.group(1) is not None:
            out.append("<code>%s</code>" % esc(m.group(1)))
        elif m.group(2) is not None:
            out.append("<strong>%s</strong>" % inline(m.group(2)))
        elif m.group(3) is not None:
            out.append("<em>%s</em>" % inline(m.group(3)))
        else:
            out.append('<a href="%s">%s</a>' % (esc(m.group(5)), inline(m.group(4))))
        pos = m.end()
    out.append(esc(s[pos:]))
    return "".join(out)


def markdown(text):
    """Render the Markdown subset used here the way Element's composer does.

    Returns None when the result would be plain text (Element then sends no
    formatted_body). A lone paragraph is not wrapped in <p>, as in Element.
    """
    blocks = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            lang = line[3:].strip()
            code = []
            i += 1
            while not lines[i].startswith("```"):
                code.append(lines[i])
                i += 1
            i += 1
            cls = ' class="language-%s"' % lang if lang else ""
            blocks.append(("pre", "<pre><code%s>%s\n</code></pre>\n" % (cls, esc("\n".join(code)))))
        elif line.strip() == "":
            i += 1
        elif re.match(r"^- ", line):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append("<li>%s</li>\n" % inline(lines[i][2:]))
                i += 1
            blocks.append(("ul", "<ul>\n%s</ul>\n" % "".join(items)))
        elif re.match(r"^\d+\. ", line):
            items = []
            while i < len(lines) and re.match(r"^\d+\. ", lines[i]):
                items.append("<li>%s</li>\n" % inline(re.sub(r"^\d+\. ", "", lines[i])))
                i += 1
            blocks.append(("ol", "<ol>\n%s</ol>\n" % "".join(items)))
        else:
            para = []
            while i < len(lines) and lines[i].strip() != "" and not lines[i].startswith("```") \
                    and not lines[i].startswith("- ") and not re.match(r"^\d+\. ", lines[i]):
                para.append(inline(lines[i]))
                i += 1
            blocks.append(("p", "<br />".join(para)))
    if len(blocks) == 1 and blocks[0][0] == "p":
        html = blocks[0][1]
        return None if html == esc(text) else html
    return "".join("<p>%s</p>\n" % h if kind == "p" else h for kind, h in blocks)


def text_to_html(text):
    return esc(text).replace("\n", "<br />")


# --------------------------------------------------------------------------
# Room builder
# --------------------------------------------------------------------------


class Room:
    def __init__(self, room_id, seed, version, via):
        self.room_id = room_id
        self.seed = seed
        self.version = version
        self.via = via
        self.events = []
        self.by_id = {}
        self.rng = random.Random(seed)
        self.counter = 0
        self.last_ts = 0
        self.next_ts = None
        self.names = {}
        self.state = {}          # (type, state_key) -> event
        self.current = {}        # message id -> (sender, msgtype, body, html) after edits
        self.thread_latest = {}  # root id -> latest event id in the thread

    # time ---------------------------------------------------------------
    def at(self, stamp):
        self.next_ts = ms(stamp) + self.rng.randint(0, 999)

    def _ts(self, gap):
        if self.next_ts is not None:
            ts, self.next_ts = self.next_ts, None
        else:
            lo, hi = gap
            ts = self.last_ts + self.rng.randint(lo, hi) * 1000 + self.rng.randint(0, 999)
        if ts <= self.last_ts:
            raise SystemExit("timestamps out of order in %s at event %d" % (self.room_id, self.counter + 1))
        self.last_ts = ts
        return ts

    # raw events -----------------------------------------------------------
    def ev(self, sender, etype, content, state_key=None, unsigned=None, gap=(25, 150)):
        self.counter += 1
        e = {"event_id": event_id(self.seed, self.counter), "room_id": self.room_id, "sender": sender, "type": etype}
        if state_key is not None:
            e["state_key"] = state_key
        e["origin_server_ts"] = self._ts(gap)
        e["content"] = content
        if unsigned is not None:
            e["unsigned"] = unsigned
        self.events.append(e)
        self.by_id[e["event_id"]] = e
        if state_key is not None:
            self.state[(etype, state_key)] = e
        return e["event_id"]

    def set_state(self, sender, etype, content, state_key="", gap=(25, 150), prev=False):
        unsigned = None
        old = self.state.get((etype, state_key))
        if prev and old is not None:
            unsigned = {"prev_content": old["content"], "prev_sender": old["sender"], "replaces_state": old["event_id"]}
        return self.ev(sender, etype, content, state_key=state_key, unsigned=unsigned, gap=gap)

    def member(self, user, membership, displayname=None, avatar=None, gap=(25, 150)):
        content = {"membership": membership}
        if displayname is not None:
            content["displayname"] = displayname
            self.names[user] = displayname
        if avatar:
            content["avatar_url"] = avatar
        return self.set_state(user, "m.room.member", content, state_key=user, gap=gap, prev=True)

    # messages -----------------------------------------------------------
    def _message_content(self, msgtype, body, html):
        c = {"msgtype": msgtype, "body": body}
        if html is not None:
            c["format"] = HTML
            c["formatted_body"] = html
        return c

    def msg(self, sender, text, msgtype="m.text", html="auto", mentions=None, gap=(25, 150)):
        if html == "auto":
            html = markdown(text)
        c = self._message_content(msgtype, text, html)
        if mentions:
            c["m.mentions"] = {"user_ids": mentions}
        eid = self.ev(sender, "m.room.message", c, gap=gap)
        self.current[eid] = (sender, msgtype, text, html)
        return eid

    def notice(self, sender, text, **kw):
        return self.msg(sender, text, msgtype="m.notice", **kw)

    def emote(self, sender, text, **kw):
        return self.msg(sender, text, msgtype="m.emote", **kw)

    def pill(self, user):
        return '<a href="https://matrix.to/#/%s">%s</a>' % (user, esc(self.names[user]))

    def reply(self, sender, parent, text, gap=(25, 150)):
        """A reply with the legacy (pre-1.13) fallbacks in body and formatted_body."""
        psender, ptype, pbody, phtml = self.current[parent]
        star = "* " if ptype == "m.emote" else ""
        plines = pbody.split("\n")
        quoted = ["> %s<%s> %s" % (star, psender, plines[0])] + ["> " + l for l in plines[1:]]
        body = "\n".join(quoted) + "\n\n" + text
        qhtml = phtml if phtml is not None else text_to_html(pbody)
        own = markdown(text)
        fallback = (
            '<mx-reply><blockquote><a href="https://matrix.to/#/%s/%s?via=%s">In reply to</a> '
            '<a href="https://matrix.to/#/%s">%s</a><br />%s</blockquote></mx-reply>'
            % (self.room_id, parent, self.via, psender, psender, qhtml)
        )
        c = {
            "msgtype": "m.text",
            "body": body,
            "format": HTML,
            "formatted_body": fallback + (own if own is not None else text_to_html(text)),
            "m.relates_to": {"m.in_reply_to": {"event_id": parent}},
            "m.mentions": {"user_ids": [psender]} if psender != sender else {},
        }
        eid = self.ev(sender, "m.room.message", c, gap=gap)
        self.current[eid] = (sender, "m.text", text, own)
        return eid

    def edit(self, sender, original, text, gap=(25, 150)):
        osender, otype, _, _ = self.current[original]
        assert osender == sender, "edits must come from the original sender"
        html = markdown(text)
        new = self._message_content(otype, text, html)
        c = self._message_content(otype, "* " + text, None if html is None else "* " + html)
        c["m.new_content"] = new
        c["m.relates_to"] = {"rel_type": "m.replace", "event_id": original}
        eid = self.ev(sender, "m.room.message", c, gap=gap)
        self.current[original] = (sender, otype, text, html)
        return eid

    def thread(self, sender, root, text, gap=(25, 150)):
        latest = self.thread_latest.get(root, root)
        html = markdown(text)
        c = self._message_content("m.text", text, html)
        c["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": latest},
        }
        eid = self.ev(sender, "m.room.message", c, gap=gap)
        self.thread_latest[root] = eid
        self.current[eid] = (sender, "m.text", text, html)
        return eid

    def react(self, sender, target, key, gap=(5, 60)):
        c = {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}}
        return self.ev(sender, "m.reaction", c, gap=gap)

    def image(self, sender, server, filename, mimetype, w, h, size, gap=(10, 40)):
        c = {
            "msgtype": "m.image",
            "body": filename,
            "filename": filename,
            "url": "mxc://%s/%s" % (server, media_id(self.seed + filename)),
            "info": {
                "mimetype": mimetype,
                "w": w,
                "h": h,
                "size": size,
                "thumbnail_url": "mxc://%s/%s" % (server, media_id(self.seed + filename + "/thumb")),
                "thumbnail_info": {"mimetype": mimetype, "w": 800, "h": int(h * 800 / w), "size": size // 3},
            },
        }
        eid = self.ev(sender, "m.room.message", c, gap=gap)
        self.current[eid] = (sender, "m.image", filename, None)
        return eid

    def public_room_state(self, creator, creator_name, name, topic, alias, users, guest_access="can_join"):
        create = {"room_version": self.version}
        if self.version in [str(v) for v in range(1, 11)]:
            create = {"creator": creator, "room_version": self.version}
        self.set_state(creator, "m.room.create", create)
        self.member(creator, "join", creator_name, gap=(0, 1))
        self.set_state(creator, "m.room.power_levels", {
            "users": users,
            "users_default": 0,
            "events": {
                "m.room.name": 50,
                "m.room.power_levels": 100,
                "m.room.history_visibility": 100,
                "m.room.canonical_alias": 50,
                "m.room.avatar": 50,
                "m.room.tombstone": 100,
                "m.room.server_acl": 100,
                "m.room.encryption": 100,
                "m.reaction": 0,
                "m.room.redaction": 0,
            },
            "events_default": 0,
            "state_default": 50,
            "ban": 50,
            "kick": 50,
            "redact": 50,
            "invite": 0,
            "historical": 100,
            "notifications": {"room": 50},
        }, gap=(0, 1))
        self.set_state(creator, "m.room.join_rules", {"join_rule": "public"}, gap=(0, 1))
        self.set_state(creator, "m.room.history_visibility", {"history_visibility": "world_readable"}, gap=(0, 1))
        self.set_state(creator, "m.room.guest_access", {"guest_access": guest_access}, gap=(0, 1))
        self.set_state(creator, "m.room.name", {"name": name}, gap=(0, 1))
        self.set_state(creator, "m.room.topic", {"topic": topic}, gap=(0, 1))
        self.set_state(creator, "m.room.canonical_alias", {"alias": alias, "alt_aliases": []}, gap=(0, 1))


# --------------------------------------------------------------------------
# Room 1: #ansible-community:example.org (room version 10)
# --------------------------------------------------------------------------

GWEN = "@gwen:example.org"
TOMASZ = "@tomasz:matrix.org"
PRIYA = "@priya.n:example.org"
LUKAS = "@lukas:chat.libre.example"
MEI = "@mei:matrix.org"
DIEGO = "@diego:matrix.org"
OLU = "@olu:chat.libre.example"
SAM = "@sam.k:example.org"
BOT = "@releasebot:example.org"
HANA = "@hana:matrix.org"
RAVI = "@ravi:chat.libre.example"
JORDAN = "@jlee:matrix.org"

COC = "https://docs.ansible.com/ansible/devel/community/code_of_conduct.html"


def ansible_community():
    r = Room("!aNsIbLeCoMmUnItY:example.org", "mxarchive-demo/ansible-community", "10", "example.org")
    ids = {}

    # ---- Day 1: Monday 2026-03-02 ------------------------------------------
    r.at("2026-03-02 09:02:11")
    r.public_room_state(
        GWEN, "Gwen Okafor", "Ansible Community",
        "Ansible community chat: playbooks, collections, CI help | Publicly archived | CoC: " + COC,
        "#ansible-community:example.org", {GWEN: 100, TOMASZ: 50})
    r.at("2026-03-02 09:05:40")
    ids["welcome"] = r.msg(GWEN, "Welcome to **#ansible-community**! This room is **publicly archived**, so anything "
                                 "you write here can be read by anyone on the web.\n\nPlease read the "
                                 "[Code of Conduct](%s) before posting, and ask your questions directly: "
                                 "no need to ask to ask." % COC)
    r.at("2026-03-02 09:11:02")
    r.member(TOMASZ, "join", "Tomasz Wierzbicki", avatar="mxc://matrix.org/" + media_id("tomasz-avatar"))
    ids["mention"] = r.msg(GWEN, "Tomasz Wierzbicki: thanks for agreeing to help moderate 🙏",
                           html=r.pill(TOMASZ) + ": thanks for agreeing to help moderate 🙏", mentions=[TOMASZ])
    r.msg(TOMASZ, "Happy to. I'll subscribe the room to the usual ban lists later today.")
    r.at("2026-03-02 10:30:17")
    r.member(PRIYA, "join", "Priya Natarajan")
    ids["loop_q"] = r.msg(PRIYA, "Hi all! How do I loop over a dictionary in a task? This gives me "
                                 "`Invalid data passed to 'loop', it requires a list`:\n\n"
                                 "```yaml\n"
                                 "- name: Create users\n"
                                 "  ansible.builtin.user:\n"
                                 "    name: \"{{ item.key }}\"\n"
                                 "    uid: \"{{ item.value.uid }}\"\n"
                                 "  loop: \"{{ users }}\"\n"
                                 "```")
    ids["reply1"] = r.reply(TOMASZ, ids["loop_q"],
                            "`loop` wants a list. Pipe the dict through `dict2items`:\n\n"
                            "```yaml\n"
                            "  loop: \"{{ users | dict2items }}\"\n"
                            "```\n\n"
                            "Then `item.key` and `item.value` work exactly as you wrote them.")
    r.msg(PRIYA, "That did it, thank you!")
    r.react(PRIYA, ids["reply1"], "👍")
    r.msg(PRIYA, "Is `with_dict` deprecated then? Half the blog posts I find still use it.")
    r.msg(TOMASZ, "Not formally deprecated, but `loop` is what the docs recommend for new code. "
                  "`with_dict` keeps working.")
    r.at("2026-03-02 10:55:48")
    r.member(MEI, "join", "Mei Tanaka")
    r.at("2026-03-02 11:20:05")
    r.member(LUKAS, "join", "Lukas Brandt")
    ids["sudo_q"] = r.msg(LUKAS, "Is there a way to make ansible-playbook ask for the sudo password only once "
                                 "for all hosts? I have 12 hosts with the same password. -K prompts once, but "
                                 "then two of them fail with \"Missing sudo password\".", html=None)
    r.msg(MEI, "-K prompts once and uses the answer for every host. If two fail, they probably have "
               "`ansible_become_password` or `ansible_become_method` set differently somewhere. Check with "
               "`ansible-inventory --host <name>`.")
    ids["sudo_thanks"] = r.msg(LUKAS, "You're right: two hosts still have `ansible_become_method: su` in "
                                      "host_vars, left over from an old migration. Thanks!")
    r.react(MEI, ids["sudo_thanks"], "🙌")
    r.at("2026-03-02 11:40:33")
    ids["emote1"] = r.emote(GWEN, "waves at all the new folks 👋")
    r.msg(MEI, "👋 hello! Long-time lurker on the forum, first time here.")
    r.at("2026-03-02 14:05:12")
    r.member(SAM, "join", "Sam Kirby")
    r.msg(SAM, "Does ansible-lint pick up a .ansible-lint file in a subdirectory, or only in the repo root?",
          html=None)
    r.msg(TOMASZ, "It searches upwards from the current directory and stops at the git root. "
                  "You can also pass `-c path/to/.ansible-lint` explicitly.")
    r.msg(SAM, "perfect, thanks")
    r.at("2026-03-02 14:52:40")
    r.msg(LUKAS, "Another one: my playbook runs take ages on ~40 hosts. Any quick wins before I start "
                 "rewriting things?", html=None)
    r.msg(MEI, "Quick wins, in order:\n\n"
               "- raise `forks` in ansible.cfg (the default is 5)\n"
               "- turn on `pipelining = True` under `[ssh_connection]`\n"
               "- set `gather_facts: false` where you don't need facts, or cache them with the "
               "`jsonfile` fact cache\n\n"
               "The `profile_tasks` callback shows you where the time actually goes.")
    r.msg(LUKAS, "forks=20 plus pipelining took it from 9 minutes to under 3. wow")
    r.at("2026-03-02 15:31:27")
    r.msg(PRIYA, "What's the idiomatic way to roll back if one task in a group fails? Something like "
                 "try/except:\n\n"
                 "```yaml\n"
                 "- name: Deploy new release\n"
                 "  ansible.builtin.unarchive:\n"
                 "    src: \"app-{{ version }}.tar.gz\"\n"
                 "    dest: /opt/app/releases/\n"
                 "- name: Switch symlink\n"
                 "  ansible.builtin.file:\n"
                 "    src: \"/opt/app/releases/{{ version }}\"\n"
                 "    dest: /opt/app/current\n"
                 "    state: link\n"
                 "```")
    r.msg(TOMASZ, "Wrap them in a `block:` and put the rollback in `rescue:`. Tasks in `always:` run either "
                  "way, handy for cleanup. Inside `rescue` you get `ansible_failed_task` and "
                  "`ansible_failed_result` if you want to log what broke.")
    r.msg(PRIYA, "block/rescue, of course. I kept searching for \"try\" in the docs 🤦", html=None)
    r.msg(SAM, "same thing happened to me last year, you're in good company", html=None)
    r.at("2026-03-02 16:47:09")
    r.msg(PRIYA, "Leaving for the day, thanks again everyone 👋", html=None)

    # ---- Day 2: Tuesday 2026-03-03 -----------------------------------------
    r.at("2026-03-03 08:12:26")
    r.member(DIEGO, "join", "Diego Ferreira")
    ids["ci_q"] = r.msg(DIEGO, "Morning! CI on my PR to community.general fails in the sanity tests and I don't "
                               "understand why: https://github.com/ansible-collections/community.general/pull/10482 "
                               "The module works fine locally.", html=None)
    ids["image"] = r.image(DIEGO, "matrix.org", "sanity-failure.png", "image/png", 1364, 768, 148213)
    ids["reply2"] = r.reply(TOMASZ, ids["ci_q"],
                            "That's **validate-modules** complaining that your `argument_spec` and the "
                            "`DOCUMENTATION` block disagree. `timeout` is `type: int` in the docs but has no "
                            "type in the spec, so it defaults to `str`.")
    ids["edit1_orig"] = r.msg(DIEGO, "Ohh. I thought the docs were just docs")
    ids["edit1"] = r.edit(DIEGO, ids["edit1_orig"], "Ohh. I thought the DOCUMENTATION block was just for humans 🙈")
    r.msg(TOMASZ, "Nope, sanity parses it. Run `ansible-test sanity --test validate-modules "
                  "plugins/modules/foo.py --docker` locally and you get exactly what CI gets.")
    r.msg(DIEGO, "Found it, fixed it, pushed.", html=None)
    r.at("2026-03-03 08:40:51")
    ids["emote2"] = r.emote(DIEGO, "is re-running the pipeline 🤞")
    r.at("2026-03-03 09:05:03")
    r.member(OLU, "join", "Oluwaseun Adeyemi")
    ids["thread_root"] = r.msg(OLU, "Has anyone got Molecule working with the podman driver on GitHub Actions "
                                    "runners? Our role tests hang at \"Waiting for instance to be ready\" "
                                    "until the job times out.", html=None)
    ids["thread1"] = r.thread(MEI, ids["thread_root"],
                              "Yes. The ubuntu-24.04 runners ship podman 4.9, which works. If your test image "
                              "boots systemd you need `command: /sbin/init` in the platform definition, "
                              "otherwise the container exits straight away and Molecule waits forever.")
    ids["ci_green"] = r.msg(DIEGO, "CI is green now 🎉 thanks Tomasz", html=None)
    r.react(TOMASZ, ids["ci_green"], "🎉")
    r.react(GWEN, ids["ci_green"], "🎉")
    ids["thread2"] = r.thread(OLU, ids["thread_root"],
                              "That was it, we were missing `command: /sbin/init`. No more hangs.")
    ids["thread3"] = r.thread(TOMASZ, ids["thread_root"],
                              "Worth adding to the docs. There's an open issue for it: "
                              "[ansible/molecule#4391](https://github.com/ansible/molecule/issues/4391)")
    r.react(OLU, ids["thread3"], "👍")
    r.at("2026-03-03 13:02:44")
    ids["prec_q"] = r.msg(LUKAS, "Question about variable precedence: if I set a variable in group_vars/all and "
                                 "also in a role's defaults/main.yml, which one wins?", html=None)
    ids["long"] = r.msg(TOMASZ,
                        "group_vars/all wins. Role defaults are the *lowest* precedence of everything, that "
                        "is their whole purpose: they are meant to be overridden.\n\n"
                        "The order that matters in practice, lowest to highest:\n\n"
                        "1. role defaults (`roles/x/defaults/main.yml`)\n"
                        "2. inventory `group_vars/all`, then other `group_vars`, then `host_vars`\n"
                        "3. playbook `group_vars/` and `host_vars/` next to the playbook\n"
                        "4. facts and registered variables\n"
                        "5. play `vars`, `vars_files` and `vars_prompt`\n"
                        "6. role `vars` (`roles/x/vars/main.yml`)\n"
                        "7. block and task `vars`, then `include_vars` and `set_fact`\n"
                        "8. role and include parameters\n"
                        "9. extra vars (`-e`), which always win\n\n"
                        "Two things trip people up. First, `roles/x/vars/main.yml` is **not** a place for "
                        "defaults: it beats almost everything, including inventory, so users of your role "
                        "can't override it without `-e`. Put tunables in `defaults/` and keep `vars/` for "
                        "internal constants such as package names per distribution. Second, `set_fact` "
                        "sticks for the rest of the play on that host, which makes debugging \"why is this "
                        "variable still X\" fun.\n\n"
                        "When in doubt, `ansible -m debug -a var=myvar hostname` or "
                        "`ansible-inventory --host hostname --vars` tells you what the host actually sees. "
                        "The full 22-level list is in the docs under \"Understanding variable precedence\", "
                        "but the nine above cover 99% of real situations.")
    r.msg(LUKAS, "That's a great explanation, bookmarking it.", html=None)
    r.react(LUKAS, ids["long"], "👍")
    r.react(PRIYA, ids["long"], "👍")
    r.at("2026-03-03 15:40:19")
    ids["proxmox_q"] = r.msg(SAM, "Is anyone else seeing `ERROR! couldn't resolve module/action "
                                  "'community.general.proxmox_kvm'` after updating to community.general 11?")
    r.msg(MEI, "The Proxmox modules moved to the community.proxmox collection. "
               "`ansible-galaxy collection install community.proxmox` and change the FQCN to "
               "`community.proxmox.proxmox_kvm`.")
    r.msg(SAM, "ugh, missed that in the changelog. thanks", html=None)
    r.at("2026-03-03 16:05:37")
    r.msg(DIEGO, "The PR bot now asks me for a \"changelog fragment\". What does it want exactly?", html=None)
    r.msg(MEI, "A small YAML file in `changelogs/fragments/`, named after your PR:\n\n"
               "```yaml\n"
               "bugfixes:\n"
               "  - foo - the ``timeout`` option is now an integer, matching its documentation "
               "(https://github.com/ansible-collections/community.general/pull/10482).\n"
               "```\n\n"
               "The release tooling stitches them into the changelog.")
    r.msg(DIEGO, "Added, thanks. Bot is happy now.", html=None)
    r.msg(SAM, "While we're on bots: is `name[casing]` from ansible-lint something people actually "
               "enforce? It flags half of our task names.")
    r.msg(TOMASZ, "Most collections do. Task names are what people read in the output, so starting "
                  "them with a capital letter is cheap consistency. If you disagree, put it in "
                  "`skip_list` and move on.")
    r.at("2026-03-03 17:21:55")
    r.msg(OLU, "Plain URL for the molecule podman docs, for anyone finding this later: "
               "https://ansible.readthedocs.io/projects/molecule/configuration/", html=None)

    # ---- Day 3: Wednesday 2026-03-04 ---------------------------------------
    r.at("2026-03-04 07:58:30")
    r.member(BOT, "join", "Release Bot", avatar="mxc://example.org/" + media_id("releasebot-avatar"))
    ids["notice"] = r.notice(
        BOT,
        "**ansible-core 2.20.4** has been released.\n\n"
        "- Changelog: [CHANGELOG-v2.20.rst](https://github.com/ansible/ansible/blob/stable-2.20/changelogs/CHANGELOG-v2.20.rst)\n"
        "- PyPI: [ansible-core 2.20.4](https://pypi.org/project/ansible-core/2.20.4/)\n"
        "- Bugfix release, no breaking changes.",
        gap=(60, 120))
    r.react(GWEN, ids["notice"], "🎉", gap=(120, 300))
    r.react(PRIYA, ids["notice"], "🎉")
    r.react(TOMASZ, ids["notice"], "🚀")
    r.at("2026-03-04 08:10:12")
    ids["topic_change"] = r.set_state(
        TOMASZ, "m.room.topic",
        {"topic": "Ansible community chat | ansible-core 2.20.4 is out | Publicly archived | CoC: " + COC},
        prev=True)
    r.msg(TOMASZ, "Updated the topic for the release.", html=None)
    r.at("2026-03-04 09:30:41")
    r.member(HANA, "join", "Hana Kowalczyk")
    ids["edit2_orig"] = r.msg(HANA, "I'm trying the `amazon.aws.aws_ec2` inventory plugin. My inventory file:\n\n"
                                    "```yaml\n"
                                    "plugin: amazon.aws.aws_ec2\n"
                                    "keyed_groups:\n"
                                    "  - key: tags.Role\n"
                                    "```\n\n"
                                    "Hosts show up, but every group is empty. What am I missing?")
    ids["edit2"] = r.edit(HANA, ids["edit2_orig"], "I'm trying the `amazon.aws.aws_ec2` inventory plugin. My "
                                                   "inventory file:\n\n"
                                                   "```yaml\n"
                                                   "plugin: amazon.aws.aws_ec2\n"
                                                   "regions:\n"
                                                   "  - eu-central-1\n"
                                                   "keyed_groups:\n"
                                                   "  - key: tags.Role\n"
                                                   "```\n\n"
                                                   "Hosts show up, but every group is **empty**. What am I missing?")
    ids["reply3"] = r.reply(PRIYA, ids["edit2_orig"],
                            "Tag keys are case sensitive, and I bet your instances are tagged `role`, not `Role`. "
                            "Also give the keyed group a `prefix`, otherwise the groups are called `_web`, `_db`.")
    r.msg(HANA, "Case sensitivity, of course. Works now, thanks Priya!", html=None)
    r.react(HANA, ids["reply3"], "❤️")
    r.at("2026-03-04 10:05:27")
    r.member(RAVI, "join", "Ravi Menon")
    r.msg(RAVI, "hi, does anyone know if AWX still supports running on plain docker-compose?", html=None)
    r.msg(TOMASZ, "Not for production. The supported install is the AWX Operator on Kubernetes; the "
                  "docker-compose setup in the repo is only for developing AWX itself.", html=None)
    r.msg(RAVI, "ok, thanks. I'll try k3s then", html=None)
    ids["leave"] = r.member(RAVI, "leave", gap=(60, 200))
    r.at("2026-03-04 12:30:03")
    ids["rename1"] = r.member(LUKAS, "join", "Lukas Brandt (he/him)")
    r.msg(LUKAS, "Could someone review https://github.com/ansible-collections/ansible.posix/pull/612 ? "
                 "It's a small fix to the `exclusive` option of authorized_key.")
    r.msg(MEI, "Looking at it now", html=None, gap=(600, 900))
    r.msg(MEI, "Reviewed. One nit about the changelog fragment, otherwise LGTM.", html=None, gap=(1200, 1800))
    r.msg(LUKAS, "Fixed the fragment. Thanks for the quick review!", html=None)
    r.at("2026-03-04 15:02:10")
    r.msg(SAM, "Is there a way to see which collection version ansible-playbook actually loads? "
               "I have community.general both in ~/.ansible and in the venv.", html=None)
    r.msg(MEI, "`ansible-galaxy collection list community.general` lists every copy it finds, in search "
               "order. The first path listed wins.")
    r.msg(SAM, "Aha, the ~/.ansible one is ancient. Deleted, thanks.", html=None)
    r.at("2026-03-04 16:20:48")
    ids["docs_pr"] = r.msg(OLU, "Sent the docs PR about `command: /sbin/init` for podman platforms in "
                                "Molecule, thanks to yesterday's thread.")
    r.react(MEI, ids["docs_pr"], "🎉")
    r.at("2026-03-04 17:15:36")
    r.msg(GWEN, "Reminder: **no community meeting tomorrow**, a lot of us are at the conference. "
                "Next meeting is Friday at 15:00 UTC as usual.")

    # ---- Day 4: Thursday 2026-03-05: nobody around (conference) ------------

    # ---- Day 5: Friday 2026-03-06 ------------------------------------------
    r.at("2026-03-06 08:40:18")
    ids["rejoin"] = r.member(RAVI, "join", "Ravi Menon")
    r.msg(RAVI, "k3s + the AWX Operator worked on the first try. Thanks for the nudge the other day!",
          html=None)
    r.at("2026-03-06 09:00:47")
    r.member(JORDAN, "join", "Jordan Lee")
    ids["roles_q"] = r.msg(JORDAN, "Hi! Total newbie here. What is the difference between a role and a "
                                   "collection? The docs use both words and I'm confused.", html=None)
    r.msg(MEI, "Short version:\n\n"
               "- **Role**: a reusable bundle of tasks, handlers, templates and defaults that does one job, "
               "e.g. install and configure nginx.\n"
               "- **Collection**: a distribution format. It can contain roles, modules, plugins and "
               "playbooks, is versioned, and is published on Galaxy under a namespace.\n\n"
               "You *write* roles; you *ship* roles (and modules) in collections.")
    ids["roles_followup"] = r.msg(JORDAN, "That makes sense. So I can put my roles in a collection and "
                                          "install the whole thing with ansible-galaxy?", html=None)
    ids["reply4"] = r.reply(GWEN, ids["roles_followup"],
                            "Exactly. `ansible-galaxy collection init myns.mycoll` gives you the skeleton, and "
                            "your roles go under `roles/`.")
    r.react(JORDAN, ids["reply4"], "🙏")
    r.at("2026-03-06 10:10:29")
    ids["rename2"] = r.member(DIEGO, "join", "Diego F.")
    r.msg(DIEGO, "Back from the conference. Did I miss anything?", html=None)
    r.msg(GWEN, "A release, a topic change, and Hana found out that tag keys are case sensitive 😄", html=None)
    r.msg(HANA, "I'll never live that down", html=None)
    r.at("2026-03-06 11:30:52")
    r.msg(OLU, "Is there a recommended way to test a collection against several Python versions on the "
               "managed node?", html=None)
    r.msg(TOMASZ, "`ansible-test integration --docker` with different images covers the target side, and "
                  "[tox-ansible](https://github.com/ansible/tox-ansible) builds the whole matrix of "
                  "ansible-core and Python versions for you.")
    r.msg(OLU, "Thanks, I'll look at tox-ansible.", html=None)
    r.at("2026-03-06 12:47:16")
    r.msg(JORDAN, "Follow-up newbie question: do I need a separate inventory file per environment "
                  "(staging, production), or one file with groups?", html=None)
    r.msg(GWEN, "Separate directories per environment is the common layout:\n\n"
                "- `inventories/staging/hosts.yml` plus its own `group_vars/`\n"
                "- `inventories/production/hosts.yml` plus its own `group_vars/`\n\n"
                "Then `-i inventories/staging` makes it very hard to hit production by accident.")
    r.msg(JORDAN, "Makes sense, that's a lot safer than remembering a --limit.", html=None)
    r.msg(HANA, "Speaking from experience, yes. Never rely on remembering --limit.", html=None)
    r.at("2026-03-06 13:25:40")
    r.msg(HANA, "Jinja question: my template leaves blank lines everywhere my `{% if %}` blocks are. "
                "Is there a global fix?")
    r.msg(MEI, "Put `#jinja2: trim_blocks: True, lstrip_blocks: True` as the very first line of the "
               "template, or pass `trim_blocks` / `lstrip_blocks` to the template module. "
               "(trim_blocks is already on by default in the module, lstrip_blocks isn't.)")
    r.msg(HANA, "lstrip_blocks was the missing bit. Clean output now.", html=None)
    r.at("2026-03-06 14:02:14")
    r.msg(SAM, "**Heads up** for anyone on Debian 13 managed nodes: `ansible_python_interpreter: auto` "
               "picks `/usr/bin/python3` there, which is 3.13, so make sure your ansible-core is new "
               "enough to support it as a target.")
    r.react(PRIYA, r.events[-1]["event_id"], "👀")
    r.at("2026-03-06 15:00:05")
    r.notice(BOT, "Community meeting starting now in #ansible-meeting:example.org. "
                  "Agenda: https://forum.ansible.com/t/community-meeting-agenda/", html=None)
    r.at("2026-03-06 16:05:44")
    r.notice(BOT, "Meeting ended. Minutes:\n\n"
                  "- Agreed to archive this room publicly (done).\n"
                  "- Molecule podman docs: Oluwaseun to send a PR.\n"
                  "- Next meeting: Friday 2026-03-13, 15:00 UTC.")
    r.msg(PRIYA, "Has anyone migrated an `ansible-navigator.yml` to the v2 settings format yet? The "
                 "migration prompt scared me off.")
    r.msg(RAVI, "I did last week. Let it migrate, it keeps a `.v0.yml` backup next to the file.")
    r.msg(PRIYA, "Oh nice, then there's no risk. Doing it now.", html=None)

    # ---- Day 6: Saturday 2026-03-07 ----------------------------------------
    r.at("2026-03-07 10:05:21")
    r.msg(LUKAS, "Weekend project: converted my home server setup from shell scripts to a playbook. "
                 "400 lines of bash became 120 lines of YAML.", html=None)
    r.msg(OLU, "Nice! Are you sharing it somewhere?", html=None)
    ids["vault_q"] = r.msg(LUKAS, "Not yet, it's full of secrets. I need to move them to ansible-vault first.",
                           html=None)
    ids["reply5"] = r.reply(MEI, ids["vault_q"],
                            "Have a look at `ansible-vault encrypt_string` for single values. Then the rest "
                            "of the file stays readable and diffable.")
    r.react(LUKAS, ids["reply5"], "👍")
    r.msg(LUKAS, "Oh, that's much nicer than vaulting the whole vars file. Thanks Mei.", html=None)
    r.at("2026-03-07 14:12:03")
    r.msg(JORDAN, "Wrote my first role today: it installs my dotfiles on a fresh laptop. "
                  "Small, but it works!", html=None)
    r.react(GWEN, r.events[-1]["event_id"], "🎉")
    r.msg(OLU, "That's how it starts. Next week you'll be writing modules.", html=None)
    r.at("2026-03-07 18:45:09")
    r.msg(GWEN, "Have a good weekend everyone!", html=None)
    return r, ids


# --------------------------------------------------------------------------
# Room 2: #opendev-infra:example.org (room version 11)
# --------------------------------------------------------------------------

INES = "@ines:example.org"
FRANK = "@frank.o:matrix.org"
YUKI = "@yuki:example.org"
BEN = "@ben.h:matrix.org"
AMARA = "@amara:chat.libre.example"
INFRABOT = "@infra-bot:example.org"


def opendev_infra():
    r = Room("!oPeNdEvInFrA:example.org", "mxarchive-demo/opendev-infra", "11", "example.org")
    ids = {}

    # ---- Day 1: Tuesday 2026-03-10 -----------------------------------------
    r.at("2026-03-10 07:30:02")
    r.public_room_state(
        INES, "Inês Carvalho", "OpenDev Infra",
        "Infrastructure for the OpenDev-style CI: Gerrit, Zuul, mirrors | Status: all systems normal",
        "#opendev-infra:example.org", {INES: 100, FRANK: 50}, guest_access="forbidden")
    r.at("2026-03-10 07:34:55")
    r.member(FRANK, "join", "Frank Osei")
    r.member(INFRABOT, "join", "infra-bot")
    r.at("2026-03-10 08:01:12")
    r.notice(INFRABOT, "**deploy** `infra-prod-service-gerrit` succeeded (12m 41s) on review01")
    r.at("2026-03-10 08:15:40")
    r.member(YUKI, "join", "Yuki Sato")
    ids["mirror_q"] = r.msg(YUKI, "Jobs in the ca-east region are failing to fetch packages from the "
                                  "Ubuntu mirror since about 07:50 UTC. Anyone looking at it?", html=None)
    r.msg(FRANK, "Looking. The mirror volume on mirror01.ca-east is at 100%.", html=None)
    ids["mirror_fix"] = r.msg(FRANK, "Found it: the reprepro cleanup cron didn't run after last week's "
                                     "reboot. Running it by hand:\n\n"
                                     "```shell\n"
                                     "sudo systemctl status reprepro-cleanup.timer\n"
                                     "sudo -u mirror /usr/local/bin/reprepro-cleanup --dist noble\n"
                                     "df -h /srv/mirror\n"
                                     "```")
    ids["reply1"] = r.reply(YUKI, ids["mirror_fix"], "Thanks! Should I recheck the failed changes now or "
                                                     "wait for the cleanup to finish?")
    r.msg(FRANK, "Wait for the cleanup, about 10 more minutes. I'll say here when it's done.", html=None)
    r.at("2026-03-10 08:58:31")
    r.msg(FRANK, "Mirror is back: 61% used, timer re-enabled. Recheck away.", html=None)
    r.react(YUKI, r.events[-1]["event_id"], "👍")
    r.set_state(FRANK, "m.room.topic",
                {"topic": "Infrastructure for the OpenDev-style CI: Gerrit, Zuul, mirrors | "
                          "Status: ca-east mirror recovered 08:58 UTC"}, prev=True)
    r.at("2026-03-10 10:20:45")
    r.member(BEN, "join", "Ben Hartmann")
    r.msg(BEN, "Heads up: I'd like to upgrade Gerrit to **3.12** this Thursday. Plan:\n\n"
               "1. announce the outage on the service-announce list\n"
               "2. take an online backup of the reviewdb and git repos\n"
               "3. stop Gerrit, run the `init` step, reindex offline\n"
               "4. smoke test and open the doors again\n\n"
               "Expected downtime: about 45 minutes.")
    r.msg(INES, "Sounds good. Please do the reindex with `--threads 16`, last time the default took ages.")
    r.msg(BEN, "Will do. I'll draft the announcement.", html=None)
    r.at("2026-03-10 11:05:18")
    r.notice(INFRABOT, "**deploy** `infra-prod-service-zuul` failed: `zuul-scheduler` did not become "
                       "healthy within 300s on zuul01")
    r.msg(FRANK, "That's me, bad config change to the tenant file. Reverting.", html=None)
    r.msg(FRANK, "Revert merged.", html=None, gap=(400, 600))
    r.notice(INFRABOT, "**deploy** `infra-prod-service-zuul` succeeded (4m 02s) on zuul01")
    r.at("2026-03-10 13:40:33")
    r.member(AMARA, "join", "Amara Nwosu")
    r.msg(AMARA, "Hi all, I'm new to the infra team. Where do I start? I have root on nothing yet, "
                 "which is probably wise.", html=None)
    r.msg(INES, "Welcome! Start with the system-config repo: every server is described there as Ansible "
                "playbooks, and changes go through code review like everything else. The docs live at "
                "https://docs.opendev.org/opendev/system-config/latest/", html=None)
    r.msg(AMARA, "Great, reading now.", html=None)
    r.at("2026-03-10 15:12:09")
    r.msg(YUKI, "Nodepool is hitting the instance quota in the ca-east cloud again: 80/80 used, 34 "
                "requests waiting.", html=None)
    r.msg(FRANK, "The provider raised our quota to 120 last week, we just never updated `max-servers`. "
                 "Change is up for review.")
    r.msg(INES, "+2 +W", html=None)
    r.emote(YUKI, "does a little quota dance")
    r.at("2026-03-10 17:30:50")
    r.msg(INES, "Signing off. Nothing on fire, for once.", html=None)

    # ---- Day 2: Wednesday 2026-03-11 ---------------------------------------
    r.at("2026-03-11 07:45:13")
    r.notice(INFRABOT, "**periodic** `infra-prod-letsencrypt` succeeded: 3 certificates renewed "
                       "(mirror01.ca-east, review01, zuul01)")
    r.at("2026-03-11 08:30:26")
    r.msg(BEN, "Announcement for tomorrow's Gerrit upgrade is out. Window: **16:00-17:00 UTC**.")
    r.msg(AMARA, "Can I shadow the upgrade tomorrow? Read-only, I promise.", html=None)
    r.msg(BEN, "Of course. Join the call and I'll share my terminal.", html=None)
    r.at("2026-03-11 10:02:37")
    r.msg(YUKI, "Something odd: Zuul's web UI shows builds from the `check` pipeline twice since the "
                "scheduler restart yesterday.")
    r.msg(FRANK, "Two schedulers were running for about a minute during the revert. The duplicates are "
                 "only in the build history, not real builds.", html=None)
    r.msg(YUKI, "Phew. Ok, ignoring them.", html=None)
    r.at("2026-03-11 13:15:04")
    r.msg(AMARA, "Small PR to fix a typo in the mirror docs, my first change here: "
                 "https://review.opendev.example/c/opendev/system-config/+/951204", html=None)
    r.msg(INES, "Approved. Welcome aboard 🎉", html=None)
    r.react(FRANK, r.events[-1]["event_id"], "🎉")
    r.at("2026-03-11 16:40:55")
    r.msg(FRANK, "Reminder for whoever is on call tonight: the backup server's disk check is noisy, "
                 "it's a known false alarm. See the **runbook** for the real threshold.")
    r.msg(INES, "Noted, thanks. Good night!", html=None)

    # Polls (MSC3381, with the unstable types Element sends), disclosed:
    # their votes show while they are open.
    def start_poll(user, question, answers):
        return r.ev(user, "org.matrix.msc3381.poll.start", {
            "org.matrix.msc3381.poll.start": {
                "question": {"org.matrix.msc1767.text": question},
                "kind": "org.matrix.msc3381.poll.disclosed",
                "max_selections": 1,
                "answers": [{"id": a, "org.matrix.msc1767.text": t} for a, t in answers],
            },
            "org.matrix.msc1767.text": question + "\n" + "\n".join("%d. %s" % (i + 1, t) for i, (_, t) in enumerate(answers)),
        })

    def vote(poll, user, answer):
        r.ev(user, "org.matrix.msc3381.poll.response", {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            "org.matrix.msc3381.poll.response": {"answers": [answer]},
        }, gap=(20, 90))

    # A poll: four votes, one of them changed, then ended by its creator.
    # Added last so that every earlier event keeps its ID and time.
    r.at("2026-03-11 17:05:12")
    poll = start_poll(BEN, "When should we hold the next infra meeting?",
                      [("tue", "Tuesday 15:00 UTC"), ("thu", "Thursday 15:00 UTC"), ("fri", "Friday 09:00 UTC")])
    vote(poll, INES, "thu")
    vote(poll, YUKI, "tue")
    vote(poll, FRANK, "thu")
    vote(poll, YUKI, "thu")  # changed her mind: only the latest vote counts
    r.ev(BEN, "org.matrix.msc3381.poll.end", {
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
        "org.matrix.msc1767.text": "The poll has ended. Top answer: Thursday 15:00 UTC",
    }, gap=(300, 600))

    # ---- Day 3: Thursday 2026-03-12, a poll and nothing else ----------------
    # The calendar, the sitemap and the days' links list a day whose only
    # message is a poll; the room's feed has an entry for it. Still open:
    # its results show as they stand. Added last, as the poll above.
    r.at("2026-03-12 06:58:41")
    mirror_poll = start_poll(FRANK, "Which mirror should we retire first?",
                             [("ca", "mirror01.ca-east"), ("eu", "mirror02.eu-west"), ("none", "Keep both for now")])
    vote(mirror_poll, INES, "eu")
    vote(mirror_poll, AMARA, "none")
    return r, ids


# --------------------------------------------------------------------------
# Element "Export chat" JSON (no m.room.history_visibility in it)
# --------------------------------------------------------------------------

ALEX = "@alex:example.org"
NOOR = "@noor:matrix.org"
KENJI = "@kenji:example.org"


def element_export():
    r = Room("!hOmElAbAuToMaTiOn:example.org", "mxarchive-demo/element-export", "10", "example.org")
    ids = {}
    r.at("2026-02-27 18:02:40")
    r.set_state(ALEX, "m.room.create", {"creator": ALEX, "room_version": "10"})
    r.member(ALEX, "join", "Alex Rivera", gap=(0, 1))
    r.set_state(ALEX, "m.room.join_rules", {"join_rule": "public"}, gap=(0, 1))
    r.set_state(ALEX, "m.room.name", {"name": "Homelab Automation"}, gap=(0, 1))
    r.set_state(ALEX, "m.room.topic",
                {"topic": "Ansible, Proxmox and too many Raspberry Pis"}, gap=(0, 1))
    r.at("2026-02-27 18:10:05")
    r.member(NOOR, "join", "Noor Haddad")
    r.msg(ALEX, "Made a room for the homelab stuff so we stop spamming the general channel.", html=None)
    r.msg(NOOR, "Good idea. First question then: how do you all keep the Pis up to date?", html=None)
    ids["html"] = r.msg(ALEX, "A weekly playbook from a systemd timer on the NAS:\n\n"
                              "```yaml\n"
                              "- hosts: pis\n"
                              "  become: true\n"
                              "  tasks:\n"
                              "    - ansible.builtin.apt:\n"
                              "        upgrade: dist\n"
                              "        update_cache: true\n"
                              "```\n\n"
                              "**Reboots** are a separate manual step, I don't trust them unattended.")
    r.msg(NOOR, "Nice, I'll steal that.", html=None)
    r.react(NOOR, ids["html"], "👍")
    r.at("2026-02-27 19:44:31")
    r.member(KENJI, "join", "Kenji Mori")
    ids["edit_orig"] = r.msg(KENJI, "hey! I run unattended-upgrades on mine, never had a probelm", html=None)
    ids["edit"] = r.edit(KENJI, ids["edit_orig"], "hey! I run unattended-upgrades on mine, never had a problem")
    ids["reply"] = r.reply(ALEX, ids["edit_orig"], "Until the day the kernel update doesn't boot 😅 "
                                                   "but yes, for security updates it's fine.")
    r.msg(KENJI, "fair", html=None)
    r.at("2026-02-28 09:20:18")
    r.msg(NOOR, "Proxmox question: anyone using the community.proxmox collection to create VMs from "
                "templates?", html=None)
    r.msg(KENJI, "Yes, `community.proxmox.proxmox_kvm` with `clone:` set to the template name. "
                 "Give it `full: true` unless you want linked clones.")
    r.msg(NOOR, "Linked clones are what I want actually, thin disks. Thanks!", html=None)
    r.at("2026-02-28 11:02:49")
    r.image(ALEX, "example.org", "rack.jpg", "image/jpeg", 3024, 4032, 2811034)
    r.msg(ALEX, "New shelf for the rack. Cable management is a future-me problem.", html=None)
    r.react(KENJI, r.events[-1]["event_id"], "😂")
    r.msg(NOOR, "That's more Pis than I expected", html=None)
    r.msg(ALEX, "Seven. Kubernetes cluster, obviously.", html=None)
    r.at("2026-02-28 16:30:12")
    r.msg(KENJI, "Tip: `ansible-pull` works great on the Pis if you'd rather have them pull config from git "
                 "instead of pushing from the NAS.")
    r.emote(NOOR, "adds ansible-pull to the weekend list")
    r.msg(ALEX, "I'll export this chat for the wiki, lots of good stuff in here.", html=None)

    export_ts = ms("2026-03-01 10:03:27")
    messages = []
    txn = 0
    for e in r.events:
        j = {"type": e["type"], "sender": e["sender"], "content": e["content"],
             "origin_server_ts": e["origin_server_ts"]}
        unsigned = {"age": export_ts - e["origin_server_ts"]}
        if "unsigned" in e:
            unsigned.update(e["unsigned"])
        if e["sender"] == ALEX and "state_key" not in e:
            txn += 1
            unsigned["transaction_id"] = "m%d.%d" % (e["origin_server_ts"] - 180, txn)
        if e["event_id"] == ids["edit_orig"]:
            edit = dict(r.by_id[ids["edit"]])
            unsigned["m.relations"] = {"m.replace": edit}
        j["unsigned"] = unsigned
        j["event_id"] = e["event_id"]
        j["room_id"] = e["room_id"]
        if "state_key" in e:
            j["state_key"] = e["state_key"]
        messages.append(j)
    export = {
        "room_name": "Homelab Automation",
        "room_creator": "Alex Rivera",
        "topic": r.state[("m.room.topic", "")]["content"]["topic"],
        "export_date": "Sun, Mar 1 2026 at 10:03",
        "exported_by": "Alex Rivera",
        "messages": messages,
    }
    return r, ids, export


# --------------------------------------------------------------------------
# malformed.ndjson: 5 valid events and 3 bad lines (lines 3, 6 and 8)
# --------------------------------------------------------------------------

MALFORMED_BAD_LINES = (3, 6, 8)


def malformed():
    r = Room("!bRoKeNfIxTuRe:example.org", "mxarchive-demo/malformed", "10", "example.org")
    r.at("2026-03-12 12:00:00")
    r.set_state(ALEX, "m.room.create", {"creator": ALEX, "room_version": "10"})
    r.member(ALEX, "join", "Alex Rivera", gap=(0, 1))
    r.set_state(ALEX, "m.room.history_visibility", {"history_visibility": "world_readable"}, gap=(0, 1))
    r.msg(ALEX, "First message in the broken fixture room.", html=None, gap=(30, 60))
    r.msg(ALEX, "Second message; the lines around this one are damaged on purpose.", html=None, gap=(30, 60))
    good = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in r.events]
    base = r.events[-1]["origin_server_ts"]
    truncated = json.dumps({"event_id": event_id(r.seed, 101), "room_id": r.room_id, "sender": ALEX,
                            "type": "m.room.message", "origin_server_ts": base - 90000,
                            "content": {"msgtype": "m.text", "body": "this line is cut off"}},
                           separators=(",", ":"))[:120]
    bad_ts = json.dumps({"event_id": event_id(r.seed, 102), "room_id": r.room_id, "sender": ALEX,
                         "type": "m.room.message", "origin_server_ts": "yesterday",
                         "content": {"msgtype": "m.text", "body": "timestamp is a string"}},
                        separators=(",", ":"))
    bad_content = json.dumps({"event_id": event_id(r.seed, 103), "room_id": r.room_id, "sender": ALEX,
                              "type": "m.room.message", "origin_server_ts": base + 30000,
                              "content": "hello"}, separators=(",", ":"))
    lines = [good[0], good[1], truncated, good[2], good[3], bad_ts, good[4], bad_content]
    return r, lines


# --------------------------------------------------------------------------
# Output and validation
# --------------------------------------------------------------------------


def write_ndjson(path, events):
    with open(path, "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n")


def fail(msg):
    print("VALIDATION FAILED: " + msg, file=sys.stderr)
    sys.exit(1)


def validate_events(name, events, seen_ids):
    ids = {}
    last = -1
    room = events[0]["room_id"]
    for i, e in enumerate(events, 1):
        for k in ("event_id", "room_id", "sender", "type", "origin_server_ts", "content"):
            if k not in e:
                fail("%s event %d lacks %s" % (name, i, k))
        eid = e["event_id"]
        if not EVENT_ID_RE.match(eid):
            fail("%s: bad event ID %s" % (name, eid))
        if eid in ids or eid in seen_ids:
            fail("%s: duplicate event ID %s" % (name, eid))
        if e["room_id"] != room:
            fail("%s: mixed rooms" % name)
        if not isinstance(e["origin_server_ts"], int) or e["origin_server_ts"] <= last:
            fail("%s: timestamp not strictly increasing at event %d" % (name, i))
        last = e["origin_server_ts"]
        ids[eid] = e
        seen_ids.add(eid)
    for e in events:
        c = e["content"]
        rel = c.get("m.relates_to") if isinstance(c, dict) else None
        targets = []
        if rel:
            if "event_id" in rel:
                targets.append(rel["event_id"])
            if "m.in_reply_to" in rel:
                targets.append(rel["m.in_reply_to"]["event_id"])
        rs = e.get("unsigned", {}).get("replaces_state")
        if rs:
            targets.append(rs)
        for t in targets:
            if t not in ids:
                fail("%s: %s relates to missing %s" % (name, e["event_id"], t))
            if ids[t]["origin_server_ts"] >= e["origin_server_ts"]:
                fail("%s: %s relates to a later event" % (name, e["event_id"]))
        if not rel:
            continue
        rt = rel.get("rel_type")
        if rt == "m.replace":
            o = ids[rel["event_id"]]
            if o["sender"] != e["sender"] or o["type"] != e["type"] or "m.new_content" not in c \
                    or not c["body"].startswith("* "):
                fail("%s: invalid edit %s" % (name, e["event_id"]))
        elif rt == "m.thread":
            root = ids[rel["event_id"]]
            if "m.relates_to" in root["content"] or rel.get("is_falling_back") is not True:
                fail("%s: bad thread event %s" % (name, e["event_id"]))
        elif rt is None and "m.in_reply_to" in rel:
            if not c["body"].startswith("> <") or not c["formatted_body"].startswith("<mx-reply><blockquote>"):
                fail("%s: reply %s lacks fallbacks" % (name, e["event_id"]))
    return ids


def summarize(name, events):
    counts = collections.Counter()
    days = collections.Counter()
    for e in events:
        c = e["content"]
        key = e["type"]
        if e["type"] == "m.room.message":
            rel = c.get("m.relates_to", {})
            if rel.get("rel_type") == "m.replace":
                key += " (edit)"
            elif rel.get("rel_type") == "m.thread":
                key += " (thread reply)"
            elif "m.in_reply_to" in rel:
                key += " (reply)"
            else:
                key += " " + c["msgtype"] + (" html" if c.get("format") == HTML else "")
        counts[key] += 1
        day = datetime.datetime.fromtimestamp(e["origin_server_ts"] / 1000, datetime.timezone.utc).date()
        days[day.isoformat()] += 1
    print("== %s: %d events" % (name, len(events)))
    for k, v in sorted(counts.items()):
        print("   %3d  %s" % (v, k))
    print("   days: " + ", ".join("%s (%d)" % kv for kv in sorted(days.items())))


def main():
    os.makedirs(DEMO_DIR, exist_ok=True)
    os.makedirs(IMPORT_DIR, exist_ok=True)
    seen = set()

    ansible, aids = ansible_community()
    write_ndjson(os.path.join(DEMO_DIR, "ansible-community.ndjson"), ansible.events)
    opendev, oids = opendev_infra()
    write_ndjson(os.path.join(DEMO_DIR, "opendev-infra.ndjson"), opendev.events)
    homelab, hids, export = element_export()
    with open(os.path.join(IMPORT_DIR, "element-export.json"), "w", encoding="utf-8") as f:
        json.dump(export, f, ensure_ascii=False, indent=2)
        f.write("\n")
    broken, lines = malformed()
    with open(os.path.join(IMPORT_DIR, "malformed.ndjson"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

    # Re-read what was written and validate it.
    for fname in ("ansible-community.ndjson", "opendev-infra.ndjson"):
        with open(os.path.join(DEMO_DIR, fname), encoding="utf-8") as f:
            events = [json.loads(line) for line in f]
        validate_events(fname, events, seen)
        summarize(fname, events)
    with open(os.path.join(IMPORT_DIR, "element-export.json"), encoding="utf-8") as f:
        exp = json.load(f)
    for k in ("room_name", "room_creator", "topic", "export_date", "exported_by", "messages"):
        if k not in exp:
            fail("element-export.json lacks " + k)
    if any(m["type"] == "m.room.history_visibility" for m in exp["messages"]):
        fail("element-export.json must not contain m.room.history_visibility")
    validate_events("element-export.json", exp["messages"], seen)
    summarize("element-export.json", exp["messages"])
    with open(os.path.join(IMPORT_DIR, "malformed.ndjson"), encoding="utf-8") as f:
        raw_lines = f.read().split("\n")[:-1]
    if len(raw_lines) != 8:
        fail("malformed.ndjson must have 8 lines")
    good = []
    for n, line in enumerate(raw_lines, 1):
        try:
            e = json.loads(line)
        except ValueError:
            e = None
        ok = e is not None and isinstance(e.get("origin_server_ts"), int) and isinstance(e.get("content"), dict)
        if ok == (n in MALFORMED_BAD_LINES):
            fail("malformed.ndjson line %d: expected %s" % (n, "bad" if n in MALFORMED_BAD_LINES else "good"))
        if ok:
            good.append(e)
    validate_events("malformed.ndjson (valid lines)", good, seen)
    print("== malformed.ndjson: %d lines, bad lines %s" % (len(raw_lines), list(MALFORMED_BAD_LINES)))

    print("\nIDs for tests:")
    for label, table in (("ansible-community", aids), ("opendev-infra", oids), ("element-export", hids)):
        for k, v in table.items():
            print("  %-18s %-15s %s" % (label, k, v))
    print("\nall checks passed")


if __name__ == "__main__":
    main()
