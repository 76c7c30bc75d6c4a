"""The alert engine's feed for the rebalancer: its alerts by region, with watermarks.

The alerts topic is sparse (a few alerts a day), so a consumer cannot tell from it whether the
alerts of event time ``t`` are all there yet. The alert engine therefore also writes every
alert that names a region to an internal topic ``<alerts>-by-region`` keyed by region, and
after each release of its input merge a *watermark* record per series of the released
partition: "every alert of this series with event time <= ``updated_at_ms`` is already in this
feed". Alerts and watermarks of one region share a key, so one partition, and Kafka keeps
their order: a consumer that has read the watermark of a series at ``T`` has read its alerts
up to ``T``. The rebalancer joins on that (see ``services/grid_rebalancer``).

A watermark is an :class:`~gridstream.schemas.alert_pb2.Alert` with the label
``gs-watermark`` set to its series id and no state; it never goes to the alerts topic.
"""

from __future__ import annotations

from gridstream.bus.topics import TopicNames
from gridstream.schemas import alert_pb2

WATERMARK_LABEL = "gs-watermark"
WATERMARK_NAME = "AlertWatermark"
WATERMARK_HEADER = ("gs-alert-event", b"watermark")


def alert_feed_topic(topics: TopicNames) -> str:
    """The internal feed's topic name (beside the alerts topic, with its prefix); the runners
    of its writer and reader create it at start (``Processor.internal_topics``)."""
    return f"{topics.alerts}-by-region"


def alert_region(msg: alert_pb2.Alert) -> str:
    """The region an alert is about (label ``region``, else its series' region; may be '')."""
    labels = msg.labels
    return labels.get("region") or labels.get("series", "").partition("/")[0]


def watermark(series_id: str, through_ms: int) -> alert_pb2.Alert:
    """The feed's record: alerts of ``series_id`` up to ``through_ms`` were all written."""
    msg = alert_pb2.Alert(
        fingerprint=f"{WATERMARK_LABEL}/{series_id}",
        name=WATERMARK_NAME,
        updated_at_ms=through_ms,
    )
    msg.labels[WATERMARK_LABEL] = series_id
    msg.labels["series"] = series_id
    return msg


def watermark_series(msg: alert_pb2.Alert) -> str | None:
    """The series a watermark record is about; None for an alert."""
    return msg.labels.get(WATERMARK_LABEL) or None
