"""The embedded broker of local runs: kombu's filesystem transport, with
messages that appear whole.

kombu writes a message file under its final name and only then fills it; a
worker polling the folder can take the file while it is still empty, fail to
decode it and stop altogether ("Unrecoverable error: JSONDecodeError",
kombu issue #1551). Here a message is written under a name the reader skips
and renamed into place, which is atomic within a folder. ``portfolio.celery``
makes this the transport of ``filesystem://`` URLs. Its table of bindings
has the same window when it is first created, read again here.

The transport still deletes a message when a worker fetches it, so a killed
worker loses what it held; the sweep (classifiers.predictions.worker) rings
again for those rows.
"""

from __future__ import annotations

import os
import time
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` onto ``queue``: written in full, then named."""
        # The same name kombu gives it: ordered by time, matched by queue.
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".partial-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def get_table(self, exchange):
        """The queues bound to ``exchange``. A process creating the table file
        leaves it empty for a moment (kombu opens it, then locks it): read
        again rather than fail."""
        for _ in range(100):
            try:
                return super().get_table(exchange)
            except ValueError:  # json: an empty file, being created
                time.sleep(0.01)
        return super().get_table(exchange)


class Transport(filesystem.Transport):
    Channel = Channel
