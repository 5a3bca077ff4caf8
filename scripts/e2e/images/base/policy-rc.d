#!/bin/sh
# As in the Debian images on Docker Hub: package scripts never start services inside an image build or container.
exit 101
