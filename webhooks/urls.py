from django.urls import path

from . import apis

app_name = "webhooks"

urlpatterns = [
    path("api/v1/events", apis.EventListApi.as_view(), name="events"),
    path("api/v1/events/redeliver", apis.EventsBulkRedeliverApi.as_view(), name="events-redeliver"),
    path("api/v1/events/<str:event_id>", apis.EventDetailApi.as_view(), name="event-detail"),
    path("api/v1/events/<str:event_id>/redeliver", apis.EventRedeliverApi.as_view(), name="event-redeliver"),
]
