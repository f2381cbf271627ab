/* vchatd-sdp.h: what the peer sends, checked before webrtcbin sees it
 *
 * Pure functions: no pipeline, no state. Every error is
 * G_IO_ERROR_INVALID_ARGUMENT with a message that says what is wrong.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <gst/sdp/sdp.h>

G_BEGIN_DECLS

#define VCHATD_SDP_TWCC_URI "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
/* The signaling protocol carries at most 60000 characters of SDP. */
#define VCHATD_SDP_MAX_LENGTH 65536
#define VCHATD_SDP_MAX_MEDIA 16
#define VCHATD_SDP_MAX_CANDIDATE_LENGTH 1024

/* Parses the peer's description and checks what webrtcbin 1.22 would trust:
 * 1 to VCHATD_SDP_MAX_MEDIA media, each audio/video over UDP/TLS/RTP/SAVPF
 * with numeric payload types, well-formed rtpmap and extmap lines, or an
 * SCTP application; a mid, ICE credentials and a DTLS fingerprint for each;
 * BUNDLE groups that name existing media. Bundled media are given the ICE
 * credentials of the group's first (webrtcbin 1.22 refuses others, which
 * RFC 8843 allows a peer to write). */
GstSDPMessage *vchatd_sdp_parse_remote (const char *text, GError **error);
/* The peer's answer answers @offer (ours, or NULL if none was made): the
 * same media, in the same order. */
gboolean vchatd_sdp_check_answer (const GstSDPMessage *offer, const GstSDPMessage *answer,
                                  GError **error);
/* The payload type (0–127, listed on the m= line) of @encoding ("VP8",
 * "OPUS"; case-insensitive) in @media's rtpmap lines, or G_MAXUINT. */
guint vchatd_sdp_find_payload_type (const GstSDPMedia *media, const char *encoding);
/* The payload type of an H.264 format in @media that vchat can send and
 * receive (openh264: packetization-mode 1, and a profile-level-id whose
 * profile is baseline or constrained baseline), or G_MAXUINT; constrained
 * baseline first, as browsers expect. @profile_level_id (nullable) gets its
 * profile-level-id, six hex digits (the answer must repeat it). */
guint vchatd_sdp_find_h264 (const GstSDPMedia *media, char **profile_level_id);
typedef enum {
  VCHATD_SDP_VIDEO_VP8,
  VCHATD_SDP_VIDEO_H264,
  VCHATD_SDP_VIDEO_VP9,
} VchatdSdpVideoCodec;
/* The payload type of VP9 profile 0 if it is the first codec @media lists
 * (RTX, RED and FEC formats passed over): what vchatd offers another
 * vchatd. G_MAXUINT otherwise: browsers list VP8 first, and get it. */
guint vchatd_sdp_find_vp9_first (const GstSDPMedia *media);

/* The video codec the peer's answer chose from the ones we offered (VP8,
 * H.264 for an answerer without VP8, VP9 for another vchatd): its first
 * format (RFC 3264: the answerer's preference, and what both sides send)
 * that is VP8, H.264 or VP9;
 * RTX, RED and FEC formats are passed over. Returns its payload type and
 * sets @codec, or G_MAXUINT (no such format). */
guint vchatd_sdp_answer_video_format (const GstSDPMedia *media, VchatdSdpVideoCodec *codec);
/* The extmap id (1–255) of transport-wide congestion control in @media,
 * or 0. */
guint vchatd_sdp_find_twcc_id (const GstSDPMedia *media);

/* The id @media's extmap lines give the header extension @uri (1-255); 0
 * if none. */
guint vchatd_sdp_find_extmap_id (const GstSDPMedia *media, const char *uri);
/* The peer's offer can be answered with vchat's codecs: each audio section
 * that is not rejected (port 0) offers Opus, each video section VP8 or an
 * H.264 that vchatd_sdp_find_h264() takes. Any other peer fails here, at
 * once, with a message naming what it offers, rather than with a call that
 * shows no picture. */
gboolean vchatd_sdp_check_codecs (const GstSDPMessage *offer, GError **error);
/* The peer's @answer to our @offer did not reject (port 0) a media section
 * we offered: an answerer that can take neither VP8 nor H.264 (or not
 * Opus) rejects it, and webrtcbin 1.22 then never starts ICE. */
gboolean vchatd_sdp_check_nothing_rejected (const GstSDPMessage *offer,
                                            const GstSDPMessage *answer, GError **error);
/* A trickled candidate line ("candidate:…" or "a=candidate:…"). FALSE with
 * @error when malformed; TRUE with *@skip when well-formed but not for us:
 * a host name, which we do not look up for a stranger. A host candidate
 * whose address is an mDNS name (one label and ".local", as Firefox and
 * Chromium hide host addresses) is for us: see
 * vchatd_sdp_candidate_mdns_name(). */
gboolean vchatd_sdp_check_candidate (const char *candidate, gboolean *skip, GError **error);
/* The mDNS name (“<label>.local”) a well-formed host @candidate has as its
 * address, or NULL. The receiver resolves it (GResolver: nss-mdns and
 * avahi-daemon on a desktop) and gives ICE the candidate with the address
 * it found (vchatd_sdp_candidate_with_address()), checked as any other. */
char *vchatd_sdp_candidate_mdns_name (const char *candidate);
/* @candidate with @address in place of its own (an mDNS name resolved),
 * or NULL when malformed. */
char *vchatd_sdp_candidate_with_address (const char *candidate, GInetAddress *address);
/* Whether ICE may send to the address of a well-formed remote @candidate
 * (see vchatd_sdp_check_candidate()): not the unspecified address, a
 * multicast or the broadcast address, nor a port below 1024 (a peer could
 * aim our STUN checks at a local service); TCP active candidates, which are
 * never sent to, are exempt from the port rule. FALSE with @why, a static
 * string saying which rule. */
gboolean vchatd_sdp_candidate_target_allowed (const char *candidate, const char **why);
/* An address only the local network knows, which tells a stranger
 * about the user (and, for IPv6 link-local and some unique-local ones, the
 * network card): IPv4 private (10/8, 172.16/12, 192.168/16), shared
 * (100.64/10), link-local or loopback; IPv6 unique-local (fc00::/7),
 * link-local, site-local or loopback, and IPv4-mapped forms of those. */
gboolean vchatd_sdp_address_is_private (GInetAddress *address);
/* Our own @candidate as a stranger may see it: NULL for a host candidate
 * whose address is private (see above); otherwise a copy in which the
 * related address of a server-reflexive or relay candidate ("raddr …
 * rport …", the host address behind it) reads "raddr 0.0.0.0 rport 0", as
 * browsers send it. */
char *vchatd_sdp_candidate_for_stranger (const char *candidate);

/* The IP address of a candidate line, or NULL (a name, or malformed). */
GInetAddress *vchatd_sdp_candidate_address (const char *candidate);

/* A candidate line a description carried, and the index of its m= line. */
typedef struct {
  guint mline;
  char *candidate; /* "candidate:…" */
} VchatdSdpCandidate;

/* The peer's description @text without its candidate lines: each
 * "a=candidate:" of a media section goes into @candidates (an array of
 * VchatdSdpCandidate, made with vchatd_sdp_candidates_new()), and
 * "a=end-of-candidates" and candidates outside any media section go. A
 * peer that does not trickle (a browser that sends its offer after
 * gathering) puts its candidates there; webrtcbin would give them to ICE
 * without any of the checks a trickled candidate gets, so they are taken
 * out and trickled instead. Lines keep their ending (CRLF or LF). */
char *vchatd_sdp_take_candidates (const char *text, GArray *candidates);
GArray *vchatd_sdp_candidates_new (void);

/* At most this many remote candidates per connection attempt. */
#define VCHATD_SDP_MAX_REMOTE_CANDIDATES 32

G_END_DECLS
